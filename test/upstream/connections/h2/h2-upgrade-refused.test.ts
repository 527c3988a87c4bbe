/**
 * An HTTP/1.1 upgrade (WebSocket) to an HTTP/2 upstream is answered 501 and nothing of it goes
 * out: its log line says `stage: not_sent`, as the gateway's other refusals before any upstream
 * do. It said `sent` (and a connect time), for a request no byte of which reached the upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Answer, startH2 } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { rawRequest } from '../../../helpers/http-client.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

test('a WebSocket upgrade to an h2c upstream: 501, no stream opened, and the log line says not_sent', async (t) => {
  const up = await startH2(h2Answer);
  t.after(() => up.close());
  const gw = await startTestGateway(
    `routes:\n  - upstream: app\nupstreams:\n  app:\n    protocol: h2c\n    targets:\n      - url: ${up.url}\n`,
  );
  t.after(() => gw.close());
  const request =
    'GET /chat HTTP/1.1\r\nHost: a\r\nX-Request-Id: upgrade-h2\r\nConnection: Upgrade\r\n' +
    'Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const answer = await rawRequest(gw.port, request);
  assert.equal(answer.status, 501);
  assert.match(
    answer.raw,
    /\r\nProxy-Status: [^;]+; error=http_request_error; details="a protocol upgrade cannot be carried to an HTTP\/2 upstream"\r\n/i,
  );
  const line = await gw.logFor('upgrade-h2');
  const { time: _time, req_id: _id, trace_id: _trace, total_ms: _total, target, ...rest } = line;
  assert.equal(target, up.url);
  assert.deepEqual(rest, {
    level: 'info',
    gateway: 'candor',
    client: '127.0.0.1',
    client_req_id: 'upgrade-h2',
    method: 'GET',
    host: 'a',
    path: '/chat',
    protocol: 'HTTP/1.1',
    route: '/',
    upstream: 'app',
    status: 501,
    error: 'http_request_error',
    shape: 'client',
    flag: 'DPE',
    stage: 'not_sent',
    details: 'a protocol upgrade cannot be carried to an HTTP/2 upstream',
    bytes_in: request.length,
    bytes_out: 0,
    upstream_reset: false,
    client_aborted: false,
    attempts: 1,
    retry_skipped: 'not_retryable',
    msg: 'request',
  });
  assert.equal(up.peakStreams, 0, 'no stream reached the upstream');
});
