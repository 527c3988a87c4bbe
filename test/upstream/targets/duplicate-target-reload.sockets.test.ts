/**
 * One server written twice in an upstream's targets (a `candor check` warning, cross-checks.ts)
 * runs as written across a reload: the first entry keeps its own state and pool (its health,
 * ejection, slow start and turn), the second is new, and the second's old pool is retired, as a
 * removed target's is. The previous targets were keyed by origin in a map whose later entry won:
 * the first entry took the second's state (new at the reload before, so in slow start after
 * every reload), and the first's pool was retired by nothing, its idle connections held open
 * until their idle timeout.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

test('one server written twice: a reload retires the pool it does not keep, and keeps the first entry its own', async () => {
  let open = 0;
  const upstream = http.createServer({ keepAliveTimeout: 120_000 }, (_req, res) => res.end('ok'));
  upstream.on('connection', (socket) => {
    open++;
    socket.on('close', () => open--);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  keep({
    close: () =>
      new Promise<void>((resolve) => {
        upstream.close(() => resolve());
        upstream.closeAllConnections();
      }),
  });
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const config = `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: "${url}" }, { url: "${url}" }]\n    pool: { idle_timeout: 120s }\n`;
  const gw = await keep(startTestGateway(config));
  // Round robin: one request on each entry, each entry's pool keeps its connection idle.
  for (const path of ['/1', '/2']) assert.equal((await request(gw.url, { path })).status, 200);
  assert.equal(open, 2);
  await gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config}`, '<test>', {}));
  // The first entry's pool is kept with its connection; the second's, replaced, is retired.
  await waitUntil('one connection open after the reload', () => open === 1);
  for (const path of ['/3', '/4']) assert.equal((await request(gw.url, { path })).status, 200);
  assert.equal(open, 2, "the kept connection and the new entry's one");
});
