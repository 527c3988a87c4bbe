/**
 * `upstreams.*.discovery` against a resolver that misbehaves, on real sockets: a CNAME chain
 * and a CNAME loop, a truncated UDP answer with no TCP to finish it, a reload that asks another
 * name; a target that leaves takes its metric series with it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const servers: http.Server[] = [];
let port = 0;
let dns: DnsServer;
const open: TestGateway[] = [];

async function listen(host: string, at: number): Promise<number> {
  const server = http.createServer((_req, res) => res.end(host));
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
});
after(() => closeAll(open, dns, servers));

const yaml = (name: string) => `
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: ${name}, port: ${port}, resolvers: [${dns.address}], interval: 100ms, min_ttl: 100ms }
`;

async function gatewayOn(name: string): Promise<TestGateway> {
  const g = await startTestGateway(yaml(name));
  open.push(g);
  return g;
}

const origins = (g: TestGateway) =>
  g.gateway
    .runtime()
    .upstreams.get('api')
    ?.targets.map((t) => t.config.origin) ?? [];
const askedOf = (name: string) => dns.questions.filter((q) => q === `${name} A`).length;
const twoMoreQuestions = async (name: string) => {
  const before = askedOf(name);
  await waitUntil(`two more questions for ${name}`, () => askedOf(name) >= before + 2, 5000);
};
const failedLines = (g: TestGateway) =>
  g.logs.filter((l) => l.msg === 'discovery failed: the last good targets are kept');

test('a CNAME chain is followed to its addresses; a CNAME loop, then a truncated answer, keep the last good set, counted', async () => {
  dns.set('chain.test', [
    { type: 'CNAME', target: 'mid.chain.test', ttl: 1 },
    { type: 'CNAME', name: 'mid.chain.test', target: 'end.chain.test', ttl: 1 },
    { type: 'A', name: 'end.chain.test', address: '127.0.0.1', ttl: 1 } as never,
  ]);
  const g = await gatewayOn('chain.test');
  await waitUntil('the chain followed', () => origins(g).length === 1);
  assert.deepEqual(origins(g), [`http://127.0.0.1:${port}`]);
  assert.equal((await request(g.url)).text, '127.0.0.1');

  dns.set('chain.test', [
    { type: 'CNAME', target: 'loop.chain.test', ttl: 30 },
    { type: 'CNAME', name: 'loop.chain.test', target: 'chain.test', ttl: 30 },
  ]);
  await twoMoreQuestions('chain.test');
  assert.deepEqual(origins(g), [`http://127.0.0.1:${port}`]);
  assert.equal((await request(g.url)).status, 200);
  assert.equal(g.gateway.status().upstreams.api.discovery?.failure, 'empty');

  // TC: c-ares asks again over TCP, where this server has no listener.
  dns.set('chain.test', 'truncated');
  await twoMoreQuestions('chain.test');
  assert.deepEqual(origins(g), [`http://127.0.0.1:${port}`]);
  assert.equal(g.gateway.status().upstreams.api.discovery?.failure, 'ECONNREFUSED');
  // One line when it started failing, one when the reason changed: not one a question.
  assert.deepEqual(
    failedLines(g).map((l) => [l.failure, l.was]),
    [
      ['empty', null],
      ['ECONNREFUSED', 'empty'],
    ],
  );
  const metrics = (await g.gateway.metrics.exposition()).text;
  assert.match(metrics, /candor_discovery_failures_total\{upstream="api",reason="empty"\} [1-9]/);
  assert.match(metrics, /candor_discovery_failures_total\{upstream="api",reason="ECONNREFUSED"\} [1-9]/);
});

test("a target that leaves takes its metric series with it; /status's discovery block says each step", async () => {
  dns.set('series.test', [
    { type: 'A', address: '127.0.0.1', ttl: 1 },
    { type: 'A', address: '127.0.0.2', ttl: 1 },
  ]);
  const g = await gatewayOn('series.test');
  await waitUntil('both found', () => origins(g).length === 2);
  const first = g.gateway.status().upstreams.api.discovery;
  for (let i = 0; i < 4; i++) assert.equal((await request(g.url)).status, 200);
  const leaving = `target="http://127.0.0.2:${port}"`;
  assert.match((await g.gateway.metrics.exposition()).text, new RegExp(leaving));

  dns.set('series.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  await waitUntil('127.0.0.2 gone', () => origins(g).length === 1, 5000);
  const after = g.gateway.status().upstreams.api.discovery;
  assert.deepEqual(after?.targets, [`http://127.0.0.1:${port}`]);
  assert.notEqual(after?.changed_at, first?.changed_at);
  assert.equal(after?.failure, null);
  assert.doesNotMatch((await g.gateway.metrics.exposition()).text, new RegExp(leaving));

  dns.set('series.test', 'servfail');
  await twoMoreQuestions('series.test');
  const failing = g.gateway.status().upstreams.api.discovery;
  assert.equal(failing?.failure, 'ESERVFAIL');
  assert.equal(failing?.changed_at, after?.changed_at);
  assert.deepEqual(failing?.targets, [`http://127.0.0.1:${port}`]);
});

test('a reload that asks another name, which fails too, says so: the line names the new name and its failure', async () => {
  dns.set('old.test', 'servfail');
  const g = await gatewayOn('old.test');
  await waitUntil('old.test failing', () => failedLines(g).length === 1);
  await g.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml('new.test')}`, '<test>', {}));
  await waitUntil('new.test asked', () => askedOf('new.test') >= 1);
  await waitUntil('the new failure logged', () => failedLines(g).length === 2, 5000);
  assert.equal(failedLines(g)[1].dns, 'new.test');
  assert.equal(failedLines(g)[1].failure, 'ENOTFOUND');
  await waitUntil(
    '/status says it',
    () => g.gateway.status().upstreams.api.discovery?.failure === 'ENOTFOUND',
  );
});

test('an answer of TTL 0 is asked again after min_ttl, not at once; a TTL past 2^31 s waits max_ttl (no timer overflow)', async () => {
  for (const [name, ttl, bound] of [
    ['zero.test', 0, 'min_ttl: 10m, max_ttl: 20m'],
    ['huge.test', 0xffffffff, 'max_ttl: 10m'],
  ] as const) {
    dns.set(name, [{ type: 'A', address: '127.0.0.1', ttl }]);
    const g = await startTestGateway(`
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: ${name}, port: ${port}, resolvers: [${dns.address}], ${bound} }
`);
    open.push(g);
    await waitUntil(`${name} answered`, () => origins(g).length === 1);
    // Requests through the gateway turn its event loop many times: a question asked again
    // at once (setTimeout 0, or a delay past 2^31 - 1 ms, which Node makes 1 ms) would show.
    for (let i = 0; i < 20; i++) assert.equal((await request(g.url)).status, 200);
    assert.equal(askedOf(name), 1);
  }
});

test('forged answers (another question ID, another name) are not taken: the question times out, the last good set stays', async () => {
  dns.set('forged.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  const g = await gatewayOn('forged.test');
  await waitUntil('the true answer applied', () => origins(g).length === 1);
  dns.set('forged.test', { forged: '127.0.0.2' });
  await waitUntil(
    'the question timed out',
    () => g.gateway.status().upstreams.api.discovery?.failure === 'ETIMEOUT',
    15_000,
  );
  assert.deepEqual(origins(g), [`http://127.0.0.1:${port}`]);
  assert.equal((await request(g.url)).text, '127.0.0.1');
  assert.equal(
    g.logs.some((l) => l.msg === 'discovered targets changed' && String(l.targets).includes('127.0.0.2')),
    false,
  );
});
