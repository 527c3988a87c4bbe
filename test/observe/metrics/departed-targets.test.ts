/**
 * The series of a target that left its upstream go with it: an upstream found by DNS (a
 * Kubernetes service whose pods get new addresses at each deploy) changes targets for as long
 * as the gateway runs, and each target's attempts, durations and connects were kept and
 * scraped forever, so the exposition (and the worker's memory, and Prometheus's series) grew
 * with every deploy. A real DNS server on loopback moves the upstream from 127.0.0.1 to
 * 127.0.0.2; the scrape after shows the new target's series and none of the old one's.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type LoopbackServer, listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { type Sample, samples, scrape } from './scrape.ts';

const servers: LoopbackServer[] = [];
let port = 0;
let dns: DnsServer;
let gw: TestGateway;

before(async () => {
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    const server = await listenOnLoopback((_req, res) => res.end(host), host, port);
    servers.push(server);
    port = server.port;
  }
  dns = await startDnsServer();
  dns.set('api.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  gw = await startTestGateway(`
metrics: { listen: 127.0.0.1:0 }
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: api.test, port: ${port}, resolvers: [${dns.address}], interval: 200ms, min_ttl: 100ms }
`);
});

after(() => closeAll(gw, dns, servers));

const origins = () =>
  gw.gateway
    .runtime()
    .upstreams.get('api')
    ?.targets.map((t) => t.config.origin) ?? [];

/** The targets named by each per-target series of the scrape, by metric. */
async function targetsScraped(): Promise<Record<string, string[]>> {
  const { text } = await scrape(gw.gateway.metricsPort() as number);
  const byMetric: Record<string, string[]> = {};
  for (const sample of samples(text) as Sample[]) {
    const target = sample.labels.target;
    if (target === undefined || target === '' || sample.labels.upstream !== 'api') continue;
    // The gauges read the live targets when scraped; the counters and histograms are the question.
    if (!/_total$|_bucket$/.test(sample.name)) continue;
    const name = sample.name.replace(/_bucket$/, '');
    byMetric[name] = [...new Set([...(byMetric[name] ?? []), target])].sort();
  }
  return byMetric;
}

test('a target DNS took away leaves the scrape with its series; the one that came has them', async () => {
  const first = `http://127.0.0.1:${port}`;
  const next = `http://127.0.0.2:${port}`;
  await waitUntil('the first answer applied', () => origins().length === 1);
  for (let i = 0; i < 3; i++) assert.equal((await request(gw.url)).text, '127.0.0.1');
  const per = [
    'candor_upstream_attempts_total',
    'http_client_request_duration_seconds',
    'candor_upstream_connect_duration_seconds',
    'candor_upstream_time_to_first_byte_seconds',
  ];
  const before = await targetsScraped();
  for (const name of per) assert.deepEqual(before[name], [first], name);

  dns.set('api.test', [{ type: 'A', address: '127.0.0.2', ttl: 1 }]);
  await waitUntil('the second answer applied', () => origins().join() === next);
  for (let i = 0; i < 3; i++) assert.equal((await request(gw.url)).text, '127.0.0.2');
  const now = await targetsScraped();
  for (const name of per) assert.deepEqual(now[name], [next], name);
});
