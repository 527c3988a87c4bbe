/**
 * The line's `connect_ms` and `reused` are the last attempt's, the one its `target`, `error` and
 * `stage` tell: a retry refused after a first attempt that connected (then timed out) was logged
 * `connect_ms` and `reused: false` beside the refused target, a connect that never happened.
 * nginx logs `-` in `$upstream_connect_time` for that attempt; the line's `tries` tells each one.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('connect_ms and reused are the attempt the line names: none for a refused last one', async () => {
  // Accepts, reads, never answers: the attempt connects, then waits out `timeouts.response`.
  const silent = net.createServer((socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentOrigin = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const refusing = await startRefusing();
  const refusingOrigin = new URL(refusing.url).origin;
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
      - url: ${silentOrigin}
      - url: ${refusing.url}
    timeouts: { response: 200ms }
    retries: { attempts: 2, on: [http_response_timeout, connection_refused], backoff: { base: 1ms, max: 1ms } }
`);
  try {
    // Round robin starts the two requests on the two targets: one ends refused, one timed out.
    const statuses = [
      (await request(gw.url, { path: '/a' })).status,
      (await request(gw.url, { path: '/b' })).status,
    ];
    const lines = [await gw.accessLine(1), await gw.accessLine(2)];
    const refusedLast = lines.find((l) => l.error === 'connection_refused');
    const timedOutLast = lines.find((l) => l.error === 'http_response_timeout');
    assert.deepEqual(statuses.sort(), [502, 504]);
    assert.ok(refusedLast && timedOutLast, JSON.stringify(lines));
    const triesOf = (l: Record<string, unknown>) =>
      (l.tries as { target: string; error: string }[]).map((t) => [t.target, t.error]);
    assert.deepEqual(triesOf(refusedLast), [
      [silentOrigin, 'http_response_timeout'],
      [refusingOrigin, 'connection_refused'],
    ]);
    assert.deepEqual(
      [refusedLast.target, refusedLast.stage, refusedLast.connect_ms, refusedLast.reused],
      [refusingOrigin, 'not_sent', undefined, undefined],
    );
    assert.deepEqual(
      [timedOutLast.target, timedOutLast.stage, timedOutLast.reused],
      [silentOrigin, 'sent', false],
    );
    assert.equal(typeof timedOutLast.connect_ms, 'number');
  } finally {
    await gw.close();
    await refusing.close();
    silent.close();
  }
});
