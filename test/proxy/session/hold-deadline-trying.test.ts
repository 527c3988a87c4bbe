/**
 * A held request is woken to try again (the hold's scout) and its total deadline passes while
 * that try is still connecting: the request is the hold's still, and its answer is the hold's
 * 503 naming the deadline and the failure it waited after, not a 504 connection_timeout for a
 * connection begun a moment before (which a busy process meets when a scout's try and the
 * deadline land in one turn). Made certain here by a target that, once back, takes the TCP
 * connection and never answers the TLS handshake: the woken try connects for as long as the
 * deadline leaves it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('the total deadline passing during a woken try still connecting: the hold 503 naming timeouts.total, not a connect timeout', async (t) => {
  const port = await freePort();
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    hold: { timeout: 30s }
    timeouts: { connect: 20s, response: 1s, total: 1500ms }
    targets:
      - url: https://127.0.0.1:${port}
`);
  t.after(() => gw.close());
  const silent = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    silent.add(socket);
    socket.on('error', () => {});
  });
  t.after(() => {
    for (const socket of silent) socket.destroy();
    server.close();
  });
  const answer = request(gw.url, { path: '/held', headers: { 'x-request-id': 'held' }, timeoutMs: 10_000 });
  // Refused, it waits; then the target's port takes connections and says nothing.
  const held = () => gw.gateway.runtime().upstreams.get('app')?.hold.size ?? 0;
  await waitUntil('the request held', () => held() === 1);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await waitUntil('a woken try connecting', () => silent.size > 0);
  const res = await answer;
  assert.equal(res.status, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.match(
    String(res.headers['proxy-status']),
    /^edge-1; error=destination_unavailable; details="no target of \\"app\\" took the request within timeouts\.total \(1500 ms\); the last try: connection_refused/,
  );
  const line = await gw.logFor('held');
  assert.equal(line.status, 503);
  assert.equal(line.error, 'destination_unavailable');
});
