/**
 * `hold` and gRPC: a gRPC call's body always streams (`routes[].request_buffering`), and a body
 * that streams from the client is never held, so a call no target takes is answered at once
 * (Trailers-Only `UNAVAILABLE`), never after `hold.timeout`, while the upstream's other requests wait.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('a gRPC call that no target takes is answered UNAVAILABLE at once, not held, beside a GET that is', async (t) => {
  const port = await freePort();
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    hold: { timeout: 30s }\n' }),
    {},
    'http2: true',
  );
  t.after(() => edge.close());
  const client = http2.connect(edge.url);
  t.after(() => client.close());
  const held = () => edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0;
  const get = client.request({ ':path': '/page', 'x-request-id': 'page' });
  get.on('error', () => {});
  await waitUntil('the GET held', () => held() === 1);
  const call = client.request({
    ':method': 'POST',
    ':path': '/pkg.Svc/Call',
    'content-type': 'application/grpc',
    te: 'trailers',
    'x-request-id': 'call',
  });
  call.end(Buffer.from([0, 0, 0, 0, 0]));
  const head = await new Promise<http2.IncomingHttpHeaders>((resolve) => call.on('response', resolve));
  call.resume();
  assert.deepEqual([head[':status'], head['grpc-status']], [200, '14']);
  assert.match(String(head['proxy-status']), /^edge-1; error=connection_refused; /);
  const line = await edge.logFor('call');
  assert.equal(line.held_ms, undefined, 'it never waited');
  assert.equal(held(), 1, 'the GET waits on');
});
