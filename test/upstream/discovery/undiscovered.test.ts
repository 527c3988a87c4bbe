/**
 * An upstream whose DNS discovery has found no target yet answers each request with why, as a
 * failed lookup of a written target is told (DESIGN: dns_error with its rcode, dns_timeout):
 * not "no target in rotation (all busy probing)", which it said before, whatever the cause.
 * While the first question is out, the gateway's 503, and past timeouts.connect 504 dns_timeout;
 * once an answer comes, traffic flows.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

let dns: DnsServer;
let silent: dgram.Socket;
let app: Fault;
let gw: TestGateway;

before(async () => {
  dns = await startDnsServer();
  dns.set('fails.test', 'servfail');
  dns.set('empty.test', []);
  // A resolver that takes every question and answers none.
  silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  app = await startEcho();
  const port = new URL(app.url).port;
  // max_ttl 1s: a failing name is asked again within a second however long it has failed (the
  // backoff's cap), so that the answer a test then gives is seen soon.
  const at = (name: string, resolver = dns.address) =>
    `    discovery: { dns: ${name}, port: ${port}, resolvers: ["${resolver}"], interval: 200ms, max_ttl: 1s }\n`;
  gw = await startTestGateway(`name: edge-1
routes:
  - { match: { path: /missing }, upstream: missing }
  - { match: { path: /fails }, upstream: fails }
  - { match: { path: /empty }, upstream: empty }
  - { match: { path: /silent }, upstream: silent }
  - { match: { path: /quick }, upstream: quick }
upstreams:
  missing:
${at('missing.test')}  fails:
${at('fails.test')}  empty:
${at('empty.test')}  silent:
${at('silent.test', `127.0.0.1:${silent.address().port}`)}    timeouts: { connect: 10s }
  quick:
${at('quick.test', `127.0.0.1:${silent.address().port}`)}    timeouts: { connect: 300ms }
`);
});

after(() => closeAll(gw, dns, silent, app));

const failureOf = (name: string) => gw.gateway.status().upstreams[name]?.discovery?.failure;
const ask = (path: string) =>
  request(gw.url, {
    path,
    headers: { accept: 'application/json', 'x-request-id': `${path.slice(1)}-${Math.random()}` },
  });

test('while the first question is out: 503 destination_unavailable, Retry-After, naming the wait', async () => {
  const res = await ask('/silent');
  assert.equal(res.status, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(
    res.headers['proxy-status'],
    'edge-1; error=destination_unavailable; details="waiting for the first DNS answer for silent.test (A): \\"silent\\" has no target yet"; next-hop="silent"',
  );
});

test('the first question out longer than timeouts.connect: 504 dns_timeout (the failure table), not 503s until the resolver gives up', async () => {
  await new Promise((resolve) => setTimeout(resolve, 400));
  const res = await ask('/quick');
  assert.equal(res.status, 504);
  assert.equal(res.headers['retry-after'], undefined);
  assert.equal(
    res.headers['proxy-status'],
    'edge-1; error=dns_timeout; details="no DNS answer for quick.test (A) within 0.3 s (timeouts.connect): \\"quick\\" has no target yet"; next-hop="quick"',
  );
  const line = await gw.logFor(String(res.headers['x-request-id']));
  assert.deepEqual([line.status, line.error, line.shape], [504, 'dns_timeout', 'unreachable']);
});

test('NXDOMAIN, SERVFAIL and an empty answer: 502 dns_error with the rcode; the log line says it', async () => {
  await waitUntil('the three answers in', () =>
    ['missing', 'fails', 'empty'].every((name) => typeof failureOf(name) === 'string'),
  );
  const cases: [string, string, string][] = [
    [
      '/missing',
      'NXDOMAIN',
      'the DNS lookup of missing.test (A) failed (NXDOMAIN): \\"missing\\" has no target yet',
    ],
    [
      '/fails',
      'SERVFAIL',
      'the DNS lookup of fails.test (A) failed (SERVFAIL): \\"fails\\" has no target yet',
    ],
    ['/empty', 'NOERROR', 'the DNS answer for empty.test (A) has no records: \\"empty\\" has no target yet'],
  ];
  for (const [path, rcode, details] of cases) {
    const res = await ask(path);
    assert.equal(res.status, 502, path);
    assert.equal(
      res.headers['proxy-status'],
      `edge-1; error=dns_error; rcode="${rcode}"; details="${details}"; next-hop="${path.slice(1)}"`,
    );
    assert.equal(JSON.parse(res.text).error, 'dns_error');
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.equal(line.error, 'dns_error');
    assert.equal(line.status, 502);
  }
  assert.equal(app.received.length, 0, 'nothing reached the app');
});

test('a resolver that never answers: 504 dns_timeout', async () => {
  await waitUntil('the question timed out', () => failureOf('silent') === 'ETIMEOUT', 20_000);
  const res = await ask('/silent');
  assert.equal(res.status, 504);
  assert.equal(
    res.headers['proxy-status'],
    'edge-1; error=dns_timeout; details="no DNS answer for silent.test (A) in time (ETIMEOUT): \\"silent\\" has no target yet"; next-hop="silent"',
  );
});

test('a failure that changes is told as it is now, and the first good answer brings traffic', async () => {
  dns.set('missing.test', 'servfail');
  await waitUntil('SERVFAIL now', () => failureOf('missing') === 'ESERVFAIL');
  assert.match(String((await ask('/missing')).headers['proxy-status']), /rcode="SERVFAIL"/);
  dns.set('missing.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
  await waitUntil('the answer applied', () => failureOf('missing') === null);
  const res = await ask('/missing');
  assert.equal(res.status, 200);
  assert.equal(res.headers['proxy-status'], undefined);
});

test('with hold, a request waits for the first good answer, or is answered 503 naming the DNS failure', async () => {
  dns.set('later.test', 'nxdomain');
  const port = new URL(app.url).port;
  const held = await startTestGateway(`name: edge-2
routes:
  - { match: { path: /later }, upstream: later }
  - { match: { path: /never }, upstream: never }
upstreams:
  later:
    discovery: { dns: later.test, port: ${port}, resolvers: ["${dns.address}"], interval: 200ms, max_ttl: 1s }
    hold: { timeout: 10s }
  never:
    discovery: { dns: never.test, port: ${port}, resolvers: ["${dns.address}"], interval: 200ms, max_ttl: 1s }
    hold: { timeout: 300ms }
`);
  try {
    const failureAt = (name: string) => held.gateway.status().upstreams[name]?.discovery?.failure;
    await waitUntil(
      'both NXDOMAIN',
      () => failureAt('later') === 'ENOTFOUND' && failureAt('never') === 'ENOTFOUND',
    );
    const waiting = request(held.url, { path: '/later', headers: { 'x-request-id': 'held-later' } });
    await waitUntil('the request held', () => held.gateway.runtime().upstreams.get('later')?.hold.size === 1);
    dns.set('later.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.ok(Number((await held.logFor('held-later')).held_ms) > 0, 'it waited');
    const never = await request(held.url, { path: '/never', headers: { accept: 'application/json' } });
    assert.equal(never.status, 503);
    assert.equal(
      never.headers['proxy-status'],
      'edge-2; error=destination_unavailable; details="no target of \\"never\\" took the request within hold.timeout (300 ms); the last try: dns_error (the DNS lookup of never.test (A) failed (NXDOMAIN): \\"never\\" has no target yet)"; next-hop="never"',
    );
  } finally {
    await held.close();
  }
});
