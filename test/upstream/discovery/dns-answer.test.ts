/** What each record type becomes, asked of a real DNS server on loopback. */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, test } from 'node:test';
import type { DiscoveryConfig } from '../../../src/core/config/types.ts';
import { askDns } from '../../../src/upstream/discovery/dns-answer.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { closeAll } from '../../helpers/keep.ts';

let dns: DnsServer;
const resolver = new Resolver({ timeout: 1000, tries: 1 });

before(async () => {
  dns = await startDnsServer();
  resolver.setServers([dns.address]);
});
after(() => closeAll(dns));

const config = (dnsName: string, type: DiscoveryConfig['type'], port?: number): DiscoveryConfig => ({
  dns: dnsName,
  type,
  ...(port === undefined ? {} : { port }),
  scheme: 'http',
  resolvers: [dns.address],
  interval: 5000,
  minTtl: 1000,
  maxTtl: 60000,
  allow: [],
  maxTargets: 512,
});

test('A: one target per address on the port, weight 1; the smallest TTL holds', async () => {
  dns.set('a.test', [
    { type: 'A', address: '10.0.0.6', ttl: 30 },
    { type: 'A', address: '10.0.0.5', ttl: 7 },
  ]);
  const answer = await askDns(resolver, config('a.test', 'A', 3001));
  assert.deepEqual(
    answer.targets.map((t) => [t.url, t.hostname, t.port, t.origin, t.weight]),
    [
      ['http://10.0.0.5:3001', '10.0.0.5', 3001, 'http://10.0.0.5:3001', 1],
      ['http://10.0.0.6:3001', '10.0.0.6', 3001, 'http://10.0.0.6:3001', 1],
    ],
  );
  assert.equal(answer.ttl, 7);
});

test('AAAA: addresses in brackets in the URL, bare as the host name', async () => {
  dns.set('six.test', [{ type: 'AAAA', address: 'fd00::5', ttl: 5 }]);
  const answer = await askDns(resolver, config('six.test', 'AAAA', 8080));
  assert.deepEqual(
    answer.targets.map((t) => [t.url, t.hostname, t.origin]),
    [['http://[fd00::5]:8080', 'fd00::5', 'http://[fd00::5]:8080']],
  );
});

// Its log line named it `http://[::ffff:10.0.0.5]:8080` (as the resolver writes the address),
// and its health events, `target down`, metrics, request log and Proxy-Status the origin
// `http://[::ffff:a00:5]:8080`: a search of the log by the first missed every failure.
test('AAAA: an IPv4-mapped address is one target of one name, its URL the origin every other place names', async () => {
  dns.set('mapped.test', [{ type: 'AAAA', address: '::ffff:a00:5', ttl: 5 }]);
  const answer = await askDns(resolver, config('mapped.test', 'AAAA', 8080));
  assert.deepEqual(
    answer.targets.map((t) => [t.url, t.hostname, t.origin]),
    [['http://[::ffff:a00:5]:8080', '::ffff:a00:5', 'http://[::ffff:a00:5]:8080']],
  );
});

test('SRV: every priority, each record with its own port, weight (0 counts as 1, above 1000 as 1000) and priority', async () => {
  dns.set('_http._tcp.api.test', [
    { type: 'SRV', target: 'a.api.test', port: 3001, priority: 10, weight: 3, ttl: 30 },
    { type: 'SRV', target: 'b.api.test', port: 3002, priority: 10, weight: 0, ttl: 30 },
    { type: 'SRV', target: 'c.api.test', port: 3003, priority: 10, weight: 5000, ttl: 30 },
    { type: 'SRV', target: 'backup.api.test', port: 3004, priority: 20, weight: 1, ttl: 30 },
  ]);
  const answer = await askDns(resolver, config('_http._tcp.api.test', 'SRV'));
  assert.deepEqual(
    answer.targets.map((t) => [t.url, t.weight, t.priority]),
    [
      ['http://a.api.test:3001', 3, 10],
      ['http://b.api.test:3002', 1, 10],
      ['http://backup.api.test:3004', 1, 20],
      ['http://c.api.test:3003', 1000, 10],
    ],
  );
  // Node's resolver gives no TTL for SRV: the owner asks again every `interval`.
  assert.equal(answer.ttl, undefined);
});

test('SRV: max_targets cuts the highest priorities first; a name and port under two priorities is one target, of the lower', async () => {
  dns.set('_http._tcp.tiers.test', [
    { type: 'SRV', target: 'z.tiers.test', port: 3001, priority: 1, weight: 1, ttl: 30 },
    { type: 'SRV', target: 'y.tiers.test', port: 3001, priority: 1, weight: 1, ttl: 30 },
    { type: 'SRV', target: 'a.tiers.test', port: 3001, priority: 2, weight: 9, ttl: 30 },
    { type: 'SRV', target: 'b.tiers.test', port: 3001, priority: 3, weight: 1, ttl: 30 },
    { type: 'SRV', target: 'y.tiers.test', port: 3001, priority: 3, weight: 9, ttl: 30 },
  ]);
  const answer = await askDns(resolver, { ...config('_http._tcp.tiers.test', 'SRV'), maxTargets: 3 });
  assert.deepEqual(
    answer.targets.map((t) => [t.url, t.weight, t.priority]),
    [
      ['http://a.tiers.test:3001', 9, 2],
      ['http://y.tiers.test:3001', 1, 1],
      ['http://z.tiers.test:3001', 1, 1],
    ],
    'b (priority 3) cut, not a, first in order of origin',
  );
  assert.equal(answer.cut, 1);
});

test('an empty answer and a missing name reject with the resolver code', async () => {
  dns.set('empty.test', []);
  await assert.rejects(askDns(resolver, config('empty.test', 'A', 80)), { code: 'ENODATA' });
  await assert.rejects(askDns(resolver, config('missing.test', 'A', 80)), { code: 'ENOTFOUND' });
});

test('a target named twice (same name and port) is one target, of the larger weight, in whatever order the records come', async () => {
  const records = [
    { type: 'SRV' as const, target: 'a.twice.test', port: 3001, priority: 10, weight: 2, ttl: 30 },
    { type: 'SRV' as const, target: 'a.twice.test', port: 3001, priority: 10, weight: 7, ttl: 30 },
    { type: 'SRV' as const, target: 'b.twice.test', port: 3001, priority: 10, weight: 1, ttl: 30 },
  ];
  const weights = [];
  // A resolver that rotates its records must not change the set at every question.
  for (const order of [records, [...records].reverse()]) {
    dns.set('_http._tcp.twice.test', order);
    const answer = await askDns(resolver, config('_http._tcp.twice.test', 'SRV'));
    weights.push(answer.targets.map((t) => [t.url, t.weight]));
  }
  const expected = [
    ['http://a.twice.test:3001', 7],
    ['http://b.twice.test:3001', 1],
  ];
  assert.deepEqual(weights, [expected, expected]);
});
