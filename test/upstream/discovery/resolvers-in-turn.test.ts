/**
 * `discovery.resolvers` lists DNS servers "asked, in turn": a server that answers SERVFAIL or
 * REFUSED (it could not, or would not, answer: a recursor whose upstream is down, one that does
 * not serve this client) says nothing of the name, and the next one listed is asked, as glibc's
 * resolver moves on at them. Node's resolver hands those codes back at once (c-ares with
 * ARES_FLAG_NOCHECKRESP) and asks the first server again at each try, never the second. An
 * NXDOMAIN or an empty answer is an answer: the next server is not asked. Real DNS servers on
 * loopback, a real gateway.
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

let first: DnsServer;
let second: DnsServer;
let app: http.Server;
let port = 0;
const open: TestGateway[] = [];

before(async () => {
  app = http.createServer((_req, res) => res.end('app'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  port = (app.address() as AddressInfo).port;
  first = await startDnsServer();
  second = await startDnsServer();
});
after(() => closeAll(open, first, second, [app]));

async function gatewayOn(name: string): Promise<TestGateway> {
  const g = await startTestGateway(`
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: ${name}, port: ${port}, resolvers: [${first.address}, ${second.address}] }
`);
  open.push(g);
  return g;
}

const origins = (g: TestGateway) =>
  g.gateway
    .runtime()
    .upstreams.get('api')
    ?.targets.map((t) => t.config.origin) ?? [];

for (const [shape, rcode] of [
  ['servfail', 'SERVFAIL'],
  ['refused', 'REFUSED'],
] as const)
  test(`the first resolver answers ${rcode}: the second is asked, and its answer is the set`, async () => {
    const name = `${shape}.turn.test`;
    first.set(name, shape);
    second.set(name, [{ type: 'A', address: '127.0.0.1', ttl: 30 }]);
    const g = await gatewayOn(name);
    await waitUntil(
      'an answer or a failure',
      () =>
        g.gateway.status().upstreams.api.discovery?.resolved_at !== null ||
        g.gateway.status().upstreams.api.discovery?.failure !== null,
    );
    assert.deepEqual(origins(g), [`http://127.0.0.1:${port}`]);
    assert.equal(g.gateway.status().upstreams.api.discovery?.failure, null);
    assert.equal((await request(g.url)).text, 'app');
    assert.ok(second.questions.includes(`${name} A`));
  });

test('an NXDOMAIN from the first resolver is the answer: the second is not asked', async () => {
  const name = 'nx.turn.test';
  first.set(name, 'nxdomain');
  second.set(name, [{ type: 'A', address: '127.0.0.1', ttl: 30 }]);
  const g = await gatewayOn(name);
  await waitUntil('the failure', () => g.gateway.status().upstreams.api.discovery?.failure != null);
  assert.equal(g.gateway.status().upstreams.api.discovery?.failure, 'ENOTFOUND');
  assert.deepEqual(origins(g), []);
  assert.ok(!second.questions.includes(`${name} A`));
});

test('every resolver answers SERVFAIL: the failure is the first one’s, each asked', async () => {
  const name = 'all.turn.test';
  first.set(name, 'servfail');
  second.set(name, 'refused');
  const g = await gatewayOn(name);
  await waitUntil('the failure', () => g.gateway.status().upstreams.api.discovery?.failure != null);
  assert.equal(g.gateway.status().upstreams.api.discovery?.failure, 'ESERVFAIL');
  const answer = await request(g.url);
  assert.equal(answer.status, 502);
  assert.match(String(answer.headers['proxy-status']), /dns_error; rcode="SERVFAIL"/);
  assert.ok(second.questions.includes(`${name} A`));
});

test('a first resolver that never answers and a second that SERVFAILs: the failure told is the SERVFAIL, not a timeout', async () => {
  const name = 'silent.turn.test';
  first.set(name, 'silent');
  second.set(name, 'servfail');
  const g = await gatewayOn(name);
  // The first is asked again alone (its timeout twice over) before the failure is told.
  await waitUntil('the failure', () => g.gateway.status().upstreams.api.discovery?.failure != null, 20_000);
  assert.equal(g.gateway.status().upstreams.api.discovery?.failure, 'ESERVFAIL');
});
