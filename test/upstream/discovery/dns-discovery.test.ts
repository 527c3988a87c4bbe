/**
 * `upstreams.*.discovery`: the targets are what a real DNS server on loopback answers (written
 * on node:dgram, its answers changed by the test), re-asked on the answer's TTL. Traffic follows
 * each change; a target that stays keeps its state; one that goes finishes its requests; an
 * empty or failed answer keeps the last good set.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** Two upstream addresses on one port (127.0.0.1 and 127.0.0.2 are both loopback): what A records give. */
const hits = { '127.0.0.1': 0, '127.0.0.2': 0 } as Record<string, number>;
const servers: http.Server[] = [];
let port = 0;
let dns: DnsServer;
let gw: TestGateway;

async function listen(host: string, at: number): Promise<number> {
  const server = http.createServer((req, res) => {
    hits[host]++;
    const delay = req.url === '/slow' ? 600 : 0;
    setTimeout(() => res.end(host), delay);
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

before(async () => {
  port = await listen('127.0.0.1', 0);
  await listen('127.0.0.2', port);
  dns = await startDnsServer();
  dns.set('api.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  gw = await startTestGateway(`
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: api.test, port: ${port}, resolvers: [${dns.address}], interval: 200ms, min_ttl: 100ms, max_ttl: 1s }
`);
});

after(() => closeAll(gw, dns, servers));

const asked = () => dns.questions.filter((q) => q === 'api.test A').length;
const origins = () =>
  gw.gateway
    .runtime()
    .upstreams.get('api')
    ?.targets.map((t) => t.config.origin) ?? [];
const answeredBy = async (count: number) => {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) seen.add((await request(gw.url)).text);
  return seen;
};

test('the first answer becomes the targets; /status shows the set and when it changed', async () => {
  await waitUntil('the first answer applied', () => origins().length === 1);
  assert.deepEqual(origins(), [`http://127.0.0.1:${port}`]);
  assert.deepEqual(await answeredBy(4), new Set(['127.0.0.1']));
  const status = gw.gateway.status().upstreams.api.discovery;
  assert.equal(status?.dns, 'api.test');
  assert.equal(status?.type, 'A');
  assert.deepEqual(status?.targets, [`http://127.0.0.1:${port}`]);
  assert.match(String(status?.changed_at), /^\d{4}-\d\d-\d\dT/);
  assert.equal(status?.failure, null);
  const changed = gw.logs.find((l) => l.msg === 'discovered targets changed');
  assert.deepEqual(changed?.added, [`http://127.0.0.1:${port}`]);
});

test('a new address is followed within the TTL; the target that stays keeps its state object (pool, health, ejection)', async () => {
  const kept = gw.gateway.runtime().upstreams.get('api')?.targets[0];
  dns.set('api.test', [
    { type: 'A', address: '127.0.0.1', ttl: 1 },
    { type: 'A', address: '127.0.0.2', ttl: 1 },
  ]);
  await waitUntil('the second address followed', () => origins().length === 2, 5000);
  assert.deepEqual(await answeredBy(4), new Set(['127.0.0.1', '127.0.0.2']));
  const now = gw.gateway.runtime().upstreams.get('api')?.targets;
  assert.equal(
    now?.find((t) => t.config.origin === `http://127.0.0.1:${port}`),
    kept,
  );
});

test('an address that leaves is drained: its requests in flight finish, new ones go to the others', async () => {
  const slow = [request(gw.url, { path: '/slow' }), request(gw.url, { path: '/slow' })];
  await waitUntil(
    'both slow requests at their targets',
    () => hits['127.0.0.1'] > 0 && hits['127.0.0.2'] > 0,
  );
  dns.set('api.test', [{ type: 'A', address: '127.0.0.2', ttl: 1 }]);
  await waitUntil('127.0.0.1 gone', () => origins().length === 1, 5000);
  const finished = await Promise.all(slow);
  assert.deepEqual(finished.map((r) => r.status).sort(), [200, 200]);
  assert.deepEqual(new Set(finished.map((r) => r.text)), new Set(['127.0.0.1', '127.0.0.2']));
  assert.deepEqual(await answeredBy(4), new Set(['127.0.0.2']));
  const line = gw.logs.findLast((l) => l.msg === 'discovered targets changed');
  assert.deepEqual(line?.removed, [`http://127.0.0.1:${port}`]);
});

test('an empty answer, then a failing server, keep the last good set: logged when it starts and when its reason changes, counted', async () => {
  dns.set('api.test', []);
  let before = asked();
  await waitUntil('two more questions asked', () => asked() >= before + 2, 5000);
  assert.deepEqual(await answeredBy(3), new Set(['127.0.0.2']));
  assert.equal(gw.gateway.status().upstreams.api.discovery?.failure, 'empty');
  dns.set('api.test', 'servfail');
  before = asked();
  await waitUntil('two more questions asked', () => asked() >= before + 2, 5000);
  assert.deepEqual(await answeredBy(3), new Set(['127.0.0.2']));
  assert.deepEqual(origins(), [`http://127.0.0.2:${port}`]);
  assert.equal(gw.gateway.status().upstreams.api.discovery?.failure, 'ESERVFAIL');
  const failed = gw.logs.filter((l) => l.msg === 'discovery failed: the last good targets are kept');
  assert.deepEqual(
    failed.map((l) => [l.failure, l.was]),
    [
      ['empty', null],
      ['ESERVFAIL', 'empty'],
    ],
  );
  assert.deepEqual(failed[0].kept, [`http://127.0.0.2:${port}`]);
  const metrics = (await gw.gateway.metrics.exposition()).text;
  assert.match(metrics, /candor_discovery_failures_total\{upstream="api",reason="empty"\} [1-9]/);
  assert.match(metrics, /candor_discovery_failures_total\{upstream="api",reason="ESERVFAIL"\} [1-9]/);
  assert.match(metrics, /candor_discovery_changes_total\{upstream="api"\} 3/);
  dns.set('api.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  await waitUntil('answering again', () => gw.logs.some((l) => l.msg === 'discovery answering again'), 5000);
  await waitUntil('back to 127.0.0.1', () => origins()[0] === `http://127.0.0.1:${port}`, 5000);
});
