/**
 * A client that leaves while its request waits out a retry's backoff: nothing of the request is
 * in flight, and the log line and the server span say so alike. The span said
 * `candor.stage=not_sent` while the line had no `stage` at all, the one failure line without it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../metrics/scrape.ts';
import { KIND, STATUS, startCollector } from './collector.ts';

const TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4736';

test('a client gone during a retry backoff: the log line says stage not_sent, as its server span does', async () => {
  const collector = await startCollector();
  const refusing = await startRefusing();
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
metrics:
  listen: 127.0.0.1:0
routes:
  - name: items
    match: { path: /items }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
      - url: ${refusing.url}
      - url: ${echo.url}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 2, backoff: { base: 5s, max: 5s } }
tracing:
  otlp_endpoint: ${collector.endpoint}
`);
  let line: Record<string, unknown>;
  try {
    const socket = connect(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      `GET /items/1 HTTP/1.1\r\nhost: a\r\nx-request-id: left-in-backoff\r\ntraceparent: 00-${TRACE_ID}-00f067aa0ba902b7-01\r\n\r\n`,
    );
    // The first attempt was refused: the retry now waits out its 5 s backoff.
    const refused = async () =>
      sampleValue(
        samples((await scrape(gw.gateway.metricsPort() as number)).text),
        'candor_upstream_attempts_total',
        {
          upstream: 'app',
          target: new URL(refusing.url).origin,
          outcome: 'connection_refused',
          reused_connection: 'false',
        },
      ) === 1;
    await waitUntil('refused once', refused);
    socket.destroy();
    line = await gw.logFor('left-in-backoff');
  } finally {
    await gw.close();
    await Promise.all([refusing.close(), echo.close()]);
    await collector.close();
  }
  assert.equal(line.status, 499);
  assert.equal(line.error, 'client_closed');
  assert.equal(line.attempts, 1);
  assert.equal(echo.received.length, 0);
  assert.equal(line.stage, 'not_sent');
  const server = collector.spans.find((span) => span.kind === KIND.server && span.traceId === TRACE_ID);
  assert.equal(server?.status.code, STATUS.error);
  assert.equal(server?.attributes['error.type'], line.error);
  assert.equal(server?.attributes['candor.stage'], line.stage);
});
