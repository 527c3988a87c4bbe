/**
 * What a DNS answer may not make a target of: an unusable SRV record (target ".", port 0) is
 * left out and the good records stand; addresses that are no application's (0.0.0.0,
 * link-local, the cloud metadata service, the gateway's own admin listener) are refused
 * unless `allow` names them; an answer gives at most `max_targets` targets. Asked of a real
 * DNS server on loopback.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DiscoveryConfig } from '../../../src/core/config/types.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { askDns } from '../../../src/upstream/discovery/dns-answer.ts';
import { createTargetCheck } from '../../../src/upstream/discovery/refused-targets.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

let dns: DnsServer;
let echo: Fault;
const resolver = new Resolver({ timeout: 1000, tries: 1 });
const open: TestGateway[] = [];

before(async () => {
  dns = await startDnsServer();
  resolver.setServers([dns.address]);
  echo = await startEcho();
});
after(() => closeAll(open, echo, dns));

const config = (
  dnsName: string,
  type: DiscoveryConfig['type'],
  more: Partial<DiscoveryConfig> = {},
): DiscoveryConfig => ({
  dns: dnsName,
  type,
  ...(type === 'SRV' ? {} : { port: 8080 }),
  scheme: 'http',
  resolvers: [dns.address],
  interval: 5000,
  minTtl: 1000,
  maxTtl: 60000,
  allow: [],
  maxTargets: 512,
  ...more,
});

const echoPort = () => Number(new URL(echo.url).port);

test('SRV: a record with target "." and port 0 is left out and named; the good records stand', async () => {
  dns.set('_http._tcp.mixed.test', [
    { type: 'SRV', target: '.', port: 0, priority: 10, weight: 1, ttl: 30 },
    { type: 'SRV', target: 'a.mixed.test', port: 3001, priority: 10, weight: 2, ttl: 30 },
    { type: 'SRV', target: 'b.mixed.test', port: 0, priority: 10, weight: 2, ttl: 30 },
  ]);
  const answer = await askDns(resolver, config('_http._tcp.mixed.test', 'SRV'));
  assert.deepEqual(
    answer.targets.map((t) => [t.url, t.weight]),
    [['http://a.mixed.test:3001', 2]],
  );
  assert.deepEqual(
    answer.refused.map((r) => r.record),
    ['. 0', 'b.mixed.test 0'],
  );
  for (const r of answer.refused) assert.match(r.why, /^unusable record: /);
});

test('a gateway behind an SRV answer with an unusable and a metadata record serves through the good one, and logs the others once', async () => {
  dns.set('_http._tcp.served.test', [
    { type: 'SRV', target: '.', port: 0, priority: 0, weight: 1, ttl: 30 },
    { type: 'SRV', target: '127.0.0.1', port: echoPort(), priority: 0, weight: 1, ttl: 30 },
    { type: 'SRV', target: '169.254.169.254', port: 80, priority: 0, weight: 1, ttl: 30 },
  ]);
  const g = await startTestGateway(`
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: _http._tcp.served.test, type: SRV, resolvers: [${dns.address}], interval: 100ms }
`);
  open.push(g);
  await waitUntil('discovered', () => g.logs.some((l) => l.msg === 'discovered targets changed'));
  const answer = await request(g.url, { path: '/through' });
  assert.equal(answer.status, 200);
  assert.equal(echo.received.at(-1)?.path, '/through');
  // Asked again every 100 ms: the same records left out are not logged again.
  const asked = dns.questions.length;
  await waitUntil('asked again', () => dns.questions.length >= asked + 2);
  const leftOut = g.logs.filter((l) => l.msg === 'discovery left records out: the others are used');
  assert.equal(leftOut.length, 1);
  assert.equal(leftOut[0].level, 'warn');
  assert.equal(leftOut[0].refused_count, 2);
  assert.deepEqual(
    (leftOut[0].refused as { record: string }[]).map((r) => r.record),
    ['. 0', '169.254.169.254 80'],
  );
  assert.equal(
    g.logs.some((l) => l.msg === 'discovery failed: the last good targets are kept'),
    false,
  );
});

test('records a resolver rotates (round-robin order) are one left-out line, not one a question', async () => {
  const records = [
    { type: 'A' as const, address: '127.0.0.1', ttl: 30 },
    { type: 'A' as const, address: '169.254.169.254', ttl: 30 },
    { type: 'A' as const, address: '0.0.0.0', ttl: 30 },
  ];
  dns.set('rotating.test', records);
  const g = await startTestGateway(`
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: rotating.test, port: ${echoPort()}, resolvers: [${dns.address}], interval: 100ms, min_ttl: 100ms, max_ttl: 100ms }
`);
  open.push(g);
  await waitUntil('discovered', () => g.logs.some((l) => l.msg === 'discovered targets changed'));
  // As BIND's cyclic rrset-order and CoreDNS's loadbalance do: each answer starts one record later.
  for (let turn = 1; turn <= 3; turn++) {
    dns.set('rotating.test', [...records.slice(turn % 3), ...records.slice(0, turn % 3)]);
    const asked = dns.questions.length;
    await waitUntil('asked again', () => dns.questions.length >= asked + 1);
  }
  const leftOut = g.logs.filter((l) => l.msg === 'discovery left records out: the others are used');
  assert.equal(leftOut.length, 1);
  assert.deepEqual(
    (leftOut[0].refused as { record: string }[]).map((r) => r.record),
    ['0.0.0.0', '169.254.169.254'],
  );
  assert.equal(g.logs.filter((l) => l.msg === 'discovered targets changed').length, 1);
});

test('A: 0.0.0.0, link-local and the metadata service are refused by default; allow opens them', async () => {
  dns.set('risky.test', [
    { type: 'A', address: '169.254.169.254', ttl: 30 },
    { type: 'A', address: '0.0.0.0', ttl: 30 },
    { type: 'A', address: '169.254.10.1', ttl: 30 },
    { type: 'A', address: '100.100.100.200', ttl: 30 },
    { type: 'A', address: '10.0.0.5', ttl: 30 },
  ]);
  const check = createTargetCheck([], []);
  const answer = await askDns(resolver, config('risky.test', 'A'), check);
  assert.deepEqual(
    answer.targets.map((t) => t.url),
    ['http://10.0.0.5:8080'],
  );
  assert.deepEqual(
    answer.refused.map((r) => [r.record, r.why]),
    // In order of the record's text, whatever order the answer gave them in.
    [
      ['0.0.0.0', 'an unspecified address'],
      ['100.100.100.200', 'a cloud metadata address'],
      ['169.254.10.1', 'a link-local address (the cloud metadata service lives there)'],
      ['169.254.169.254', 'a link-local address (the cloud metadata service lives there)'],
    ],
  );
  const opened = await askDns(
    resolver,
    config('risky.test', 'A'),
    createTargetCheck(['169.254.10.0/24', '0.0.0.0'], []),
  );
  assert.deepEqual(
    opened.targets.map((t) => t.url),
    ['http://0.0.0.0:8080', 'http://10.0.0.5:8080', 'http://169.254.10.1:8080'],
  );
  assert.equal(opened.refused.length, 2);
});

test('AAAA: link-local, ::, the IPv4-mapped metadata address and the IPv6 metadata address are refused', async () => {
  dns.set('risky6.test', [
    { type: 'AAAA', address: 'fe80::1', ttl: 30 },
    { type: 'AAAA', address: '::', ttl: 30 },
    { type: 'AAAA', address: '::ffff:a9fe:a9fe', ttl: 30 },
    { type: 'AAAA', address: 'fd00:ec2::254', ttl: 30 },
    { type: 'AAAA', address: 'fd00::5', ttl: 30 },
  ]);
  const answer = await askDns(resolver, config('risky6.test', 'AAAA'), createTargetCheck([], []));
  assert.deepEqual(
    answer.targets.map((t) => t.url),
    ['http://[fd00::5]:8080'],
  );
  assert.equal(answer.refused.length, 4);
});

test("the gateway's own admin listener is refused, by its address or loopback's, on its port only", async () => {
  dns.set('admin.test', [
    { type: 'A', address: '127.0.0.1', ttl: 30 },
    { type: 'A', address: '127.0.0.2', ttl: 30 },
  ]);
  const check = createTargetCheck([], [{ host: '127.0.0.1', port: 9901 }]);
  const onAdminPort = await askDns(resolver, config('admin.test', 'A', { port: 9901 }), check);
  assert.deepEqual(onAdminPort.targets, []);
  assert.deepEqual(
    onAdminPort.refused.map((r) => r.why),
    [
      "the gateway's own admin listener (127.0.0.1:9901)",
      "the gateway's own admin listener (127.0.0.1:9901)",
    ],
  );
  const elsewhere = await askDns(resolver, config('admin.test', 'A', { port: 9902 }), check);
  assert.equal(elsewhere.targets.length, 2);
  dns.set('_http._tcp.admin.test', [{ type: 'SRV', target: 'localhost', port: 9901, ttl: 30 }]);
  const srv = await askDns(resolver, config('_http._tcp.admin.test', 'SRV'), check);
  assert.deepEqual(srv.targets, []);
});

test('an answer of 600 addresses gives the first 512 targets in order, and says how many were cut', async () => {
  const records = Array.from({ length: 600 }, (_, i) => ({
    type: 'A' as const,
    address: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    ttl: 30,
  }));
  dns.set('many.test', records);
  const answer = await askDns(resolver, config('many.test', 'A'));
  assert.equal(answer.targets.length, 512);
  assert.equal(answer.cut, 88);
  const small = await askDns(resolver, config('many.test', 'A', { maxTargets: 3 }));
  assert.deepEqual(
    small.targets.map((t) => t.url),
    // In order of origin, as text: the same three on every gateway that gets this answer.
    ['http://10.1.0.100:8080', 'http://10.1.0.101:8080', 'http://10.1.0.102:8080'],
  );
  assert.equal(small.cut, 597);
});

test('a gateway whose answer points only at its own admin listener has no target: 503, and the line says why', async () => {
  const dir = tempDir('candor-own-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'a-long-enough-admin-token', { mode: 0o600 });
  dns.set('own.test', [{ type: 'A', address: '127.0.0.1', ttl: 30 }]);
  const g = await startTestGateway(`
admin: { listen: "127.0.0.1:${echoPort()}", token_file: ${tokenFile} }
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: own.test, port: ${echoPort()}, resolvers: [${dns.address}] }
`);
  open.push(g);
  await waitUntil('the answer refused', () =>
    g.logs.some((l) => l.msg === 'discovery failed: the last good targets are kept'),
  );
  const leftOut = g.logs.find((l) => l.msg === 'discovery left records out: the others are used');
  assert.deepEqual(leftOut?.refused, [
    { record: '127.0.0.1', why: `the gateway's own admin listener (127.0.0.1:${echoPort()})` },
  ]);
  assert.equal(
    g.logs.find((l) => l.msg === 'discovery failed: the last good targets are kept')?.failure,
    'EBADRECORD',
  );
  const before = echo.received.length;
  const answer = await request(g.url, { path: '/admin-bound', headers: { accept: 'application/json' } });
  assert.equal(answer.status, 503);
  assert.match(
    String(answer.headers['proxy-status']),
    /error=destination_unavailable; details="every record of the DNS answer for own\.test \(A\) was refused as a target: \\"api\\" has no target yet"/,
  );
  assert.equal(echo.received.length, before);
});
