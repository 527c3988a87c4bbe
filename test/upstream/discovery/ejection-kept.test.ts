/**
 * A DNS answer that names a random subset of the records (round-robin DNS, a cloud load
 * balancer's) drops a target and gives it back: an ejected one resumes its ejection when it
 * comes back before the ejection ends, and takes no request meanwhile. Counted, never timed
 * (the ejection lasts an hour).
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

/** 127.0.0.1 answers; 127.0.0.2, on the same port, resets every request it gets (counted). */
let broken = 0;
const servers: http.Server[] = [];
let port = 0;
let dns: DnsServer;
let gw: TestGateway;

async function listen(host: string, at: number, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

const both = () => [
  { type: 'A' as const, address: '127.0.0.1', ttl: 1 },
  { type: 'A' as const, address: '127.0.0.2', ttl: 1 },
];

before(async () => {
  port = await listen('127.0.0.1', 0, (_req, res) => res.end('good'));
  await listen('127.0.0.2', port, (req) => {
    broken++;
    req.socket.destroy();
  });
  dns = await startDnsServer();
  dns.set('rr.test', both());
  gw = await startTestGateway(`
routes:
  - upstream: api
upstreams:
  api:
    discovery: { dns: rr.test, port: ${port}, resolvers: [${dns.address}], interval: 100ms, min_ttl: 50ms, max_ttl: 1s }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 1h, max_ejected_percent: 50 }
`);
});

after(() => closeAll(gw, dns, servers));

const targets = () => gw.gateway.runtime().upstreams.get('api')?.targets ?? [];
const badOrigin = () => `http://127.0.0.2:${port}`;

test('an ejected target dropped from the answer and given back resumes its ejection: it gets no request', async () => {
  await waitUntil('both addresses', () => targets().length === 2, 5000);
  for (let i = 0; i < 10 && broken === 0; i++) await request(gw.url);
  assert.equal(broken, 1);
  const bad = badOrigin();
  const ejected = targets().find((t) => t.config.origin === bad);
  assert.ok(ejected?.isEjected(performance.now()));
  const until = ejected?.ejectedUntil;

  dns.set('rr.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  await waitUntil('127.0.0.2 left the answer', () => targets().length === 1, 5000);
  dns.set('rr.test', both());
  await waitUntil('127.0.0.2 back in the answer', () => targets().length === 2, 5000);

  for (let i = 0; i < 10; i++) {
    const res = await request(gw.url);
    assert.equal(res.status, 200);
    assert.equal(res.text, 'good');
  }
  assert.equal(broken, 1, 'the ejected target got no request after coming back');
  const back = targets().find((t) => t.config.origin === bad);
  assert.notEqual(back, ejected, 'a new state object (its pool was retired)');
  assert.equal(back?.ejectedUntil, until);
  assert.equal(back?.ejections, 1);
});
