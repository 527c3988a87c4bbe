/**
 * A reload that replaces a plugin (its options changed): a request that began on the old config
 * keeps the old instance to its end, its onResponse included. The old instance's close() runs
 * once the replaced config's requests have ended (or at drain.timeout, whatever is in flight),
 * not at the swap, where the plugin released what it holds (a pool) under a request still to call
 * it: a 500 proxy_internal_error naming the plugin, the reload's fault counted as the plugin's.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** Each instance the plugin made, in order: its options' version and whether it was closed. */
interface Pool {
  version: string;
  closed: boolean;
}
const pools = (): Pool[] => (globalThis as { candorReloadPools?: Pool[] }).candorReloadPools ?? [];

/** A plugin that holds a "pool": its close() releases it, and a hook that needs it then throws. */
const POOL_PLUGIN = `export default (options) => {
  const pool = { version: options.version, closed: false };
  (globalThis.candorReloadPools ??= []).push(pool);
  return {
    onResponse(response) {
      if (pool.closed) throw new Error('the pool is closed');
      response.headers.set('x-pool', pool.version);
    },
    close() {
      pool.closed = true;
    },
  };
};
`;

let dir: string;
/** The upstream: /slow is answered when the test lets it, anything else at once. */
let app: http.Server;
const held: http.ServerResponse[] = [];
const open: TestGateway[] = [];

before(async () => {
  dir = tempDir('candor-plugins-reload-close-');
  writeFileSync(join(dir, 'pool.mjs'), POOL_PLUGIN);
  app = http.createServer((req, res) => {
    if (req.url === '/slow') held.push(res);
    else res.end('ok');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  for (const res of held) res.end();
  app?.closeAllConnections();
  await closeAll(app, open);
  rmSync(dir, { recursive: true, force: true });
});

const yaml = (version: string, more = '') => `plugins:
  pool: { module: ${join(dir, 'pool.mjs')}, options: { version: "${version}" } }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [pool] }
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:${(app.address() as AddressInfo).port}" }] }
${more}`;

const reloadTo = (g: TestGateway, text: string) =>
  g.gateway.reload(parseConfig(`listen: [{ address: 127.0.0.1:0 }]\n${text}`, '<test>', {}));

test("a request in flight across a reload that replaces its plugin gets its answer; the old instance's close runs after it", async () => {
  const g = await startTestGateway(yaml('1'));
  open.push(g);
  const first = pools().length - 1;
  const slow = request(g.url, { path: '/slow', timeoutMs: 5_000 });
  await waitUntil('the request held at its upstream', () => held.length === 1);
  await reloadTo(g, yaml('2'));
  // The new config's requests meet the new instance.
  const fresh = await request(g.url, { path: '/fast' });
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(fresh.headers['x-pool'], '2');
  assert.equal(pools()[first].closed, false, 'the old instance stays open while its request is in flight');
  held[0].end('slow');
  const answer = await slow;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.headers['x-pool'], '1');
  assert.equal(answer.text, 'slow');
  await waitUntil('the old instance closed after it', () => pools()[first].closed);
  assert.equal(pools()[first + 1].closed, false);
  assert.deepEqual(
    g.logs.filter((l) => l.level === 'error' || l.level === 'warn').map((l) => l.msg),
    [],
  );
});

test('a request held past drain.timeout does not keep the old instance: its close runs then', async () => {
  const drain = 'drain: { timeout: 300ms }\n';
  const g = await startTestGateway(yaml('3', drain));
  open.push(g);
  const first = pools().length - 1;
  const stuck = request(g.url, { path: '/slow', timeoutMs: 5_000 });
  await waitUntil('the request held at its upstream', () => held.length === 2);
  await reloadTo(g, yaml('4', drain));
  await waitUntil('the old instance closed at the bound', () => pools()[first].closed);
  assert.equal(pools()[first + 1].closed, false);
  // Released past the bound, the request meets what it was warned of: its plugin closed.
  held[1].end('slow');
  const answer = await stuck;
  assert.equal(answer.status, 500);
  assert.match(
    String(answer.headers['proxy-status']),
    /error=proxy_internal_error; .*plugin:pool threw in onResponse/,
  );
});

test('a refused reload gives the instances made for it close() at once; the running ones serve on', async () => {
  const g = await startTestGateway(yaml('5'));
  open.push(g);
  const first = pools().length - 1;
  // A second listener on the upstream's port: it cannot open, once the new instances are made.
  const taken = (app.address() as AddressInfo).port;
  const refused = g.gateway.reload(
    parseConfig(
      `listen: [{ address: 127.0.0.1:0 }, { address: 127.0.0.1:${taken} }]\n${yaml('6')}`,
      '<test>',
      {},
    ),
  );
  await assert.rejects(refused, /EADDRINUSE/);
  assert.equal(pools()[first + 1].version, '6');
  assert.equal(pools()[first + 1].closed, true);
  assert.equal(pools()[first].closed, false);
  const res = await request(g.url, { path: '/fast' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['x-pool'], '5');
});

test("a gateway closed while a replaced instance's request is in flight closes it after the drain", async () => {
  const g = await startTestGateway(yaml('7'));
  const first = pools().length - 1;
  const slow = request(g.url, { path: '/slow', timeoutMs: 5_000 });
  await waitUntil('the request held at its upstream', () => held.length === 3);
  await reloadTo(g, yaml('8'));
  const closed = g.close();
  // The drain waits for the request, and the instance serves it to its end.
  held[2].end('slow');
  const answer = await slow;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.headers['x-pool'], '7');
  await closed;
  assert.deepEqual(
    pools()
      .slice(first)
      .map((p) => p.closed),
    [true, true],
  );
});
