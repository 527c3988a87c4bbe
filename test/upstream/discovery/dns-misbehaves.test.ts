/**
 * `upstreams.*.discovery` when DNS misbehaves, on real sockets (docs/hostile-peers.md,
 * "Discovery when DNS misbehaves"): an SRV answer that swaps its priorities (a failover done
 * in DNS); SRV targets that spell the metadata address as a number, or one name in two cases.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { DiscoveryConfig } from '../../../src/core/config/types.ts';
import { askDns } from '../../../src/upstream/discovery/dns-answer.ts';
import { createTargetCheck } from '../../../src/upstream/discovery/refused-targets.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const servers: http.Server[] = [];
let dns: DnsServer;
const open: TestGateway[] = [];

async function listen(body: string): Promise<number> {
  const server = http.createServer((_req, res) => res.end(body));
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return (server.address() as AddressInfo).port;
}

let blue = 0;
let green = 0;
before(async () => {
  blue = await listen('blue');
  green = await listen('green');
  dns = await startDnsServer();
});
after(() => closeAll(open, dns, servers));

const askedOf = (name: string, type = 'A') => dns.questions.filter((q) => q === `${name} ${type}`).length;

test('an SRV answer that swaps its priorities (a failover done in DNS) moves the traffic: the priority is part of the set', async () => {
  const name = '_http._tcp.swap.test';
  const srv = (bluePriority: number, greenPriority: number) => [
    { type: 'SRV' as const, target: '127.0.0.1', port: blue, priority: bluePriority, weight: 1, ttl: 30 },
    { type: 'SRV' as const, target: '127.0.0.1', port: green, priority: greenPriority, weight: 1, ttl: 30 },
  ];
  dns.set(name, srv(10, 20));
  const g = await startTestGateway(`
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: ${name}, type: SRV, resolvers: [${dns.address}], interval: 100ms }
`);
  open.push(g);
  await waitUntil('discovered', () => (g.gateway.runtime().upstreams.get('api')?.targets.length ?? 0) === 2);
  assert.equal((await request(g.url)).text, 'blue');

  dns.set(name, srv(20, 10));
  const asked = askedOf(name, 'SRV');
  await waitUntil('asked twice more', () => askedOf(name, 'SRV') >= asked + 2, 5000);
  const priorities = g.gateway
    .runtime()
    .upstreams.get('api')
    ?.targets.map((t) => [t.config.url, t.config.priority]);
  assert.deepEqual(
    priorities,
    [
      [`http://127.0.0.1:${blue}`, 20],
      [`http://127.0.0.1:${green}`, 10],
    ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
  );
  assert.equal((await request(g.url)).text, 'green');
  assert.equal(
    g.logs.filter((l) => l.msg === 'discovered targets changed').length,
    2,
    'the swap is a change, logged',
  );
});

const srvConfig = (name: string): DiscoveryConfig => ({
  dns: name,
  type: 'SRV',
  scheme: 'http',
  resolvers: [dns.address],
  interval: 5000,
  minTtl: 1000,
  maxTtl: 60000,
  allow: [],
  maxTargets: 512,
});

test('SRV targets that spell the metadata address as a number (decimal, hex, octal) are refused as it is; one name in two cases is one target', async () => {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([dns.address]);
  const name = '_http._tcp.spelled.test';
  dns.set(name, [
    ...['2852039166', '0xa9fea9fe', '0251.0376.0251.0376', '169.254.169.254.'].map((target) => ({
      type: 'SRV' as const,
      target,
      port: 80,
      ttl: 30,
    })),
    { type: 'SRV', target: 'API.Spelled.TEST.', port: 3001, weight: 5, ttl: 30 },
    { type: 'SRV', target: 'api.spelled.test', port: 3001, weight: 2, ttl: 30 },
  ]);
  const answer = await askDns(resolver, srvConfig(name), createTargetCheck([], []));
  assert.deepEqual(
    answer.targets.map((t) => [t.origin, t.weight]),
    [['http://api.spelled.test:3001', 5]],
  );
  assert.deepEqual(
    answer.refused.map((r) => [r.record, r.why]),
    ['0251.0376.0251.0376 80', '0xa9fea9fe 80', '169.254.169.254 80', '2852039166 80'].map((record) => [
      record,
      'a link-local address (the cloud metadata service lives there)',
    ]),
  );
});
