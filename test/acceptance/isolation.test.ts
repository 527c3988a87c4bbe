/**
 * Isolation between routes, upstreams and clients (noisy neighbours), as DESIGN.md, limits.md and
 * resilience.md promise it: one bad upstream, one flooding client, one stuck HTTP/2 connection
 * gets its own honest answers, and the others' requests, pools, circuits and budgets are untouched.
 * Real misbehaving upstreams (the fault kit) on loopback; every wait is bounded.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { afterEach, describe, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { startResetBeforeHead } from '../../src/kits/fault-kit/reset-faults.ts';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin } from '../../src/proxy/stages/plugin-api.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { assertGatewayError, parseProxyStatus } from '../helpers/gateway-error.ts';
import { type ClientResponse, rawUpload, request } from '../helpers/http-client.ts';
import { poolOf, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

const closing: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});
async function fault(start: Promise<Fault>): Promise<Fault> {
  const f = await start;
  closing.push(() => f.close());
  return f;
}
async function gateway(yaml: string, listener = '', options = {}): Promise<TestGateway> {
  const gw = await startTestGateway(`name: edge-1\n${yaml}`, {}, listener, options);
  closing.push(() => gw.close());
  return gw;
}
const statuses = (responses: readonly ClientResponse[]) => responses.map((r) => r.status);
const errorOf = (r: ClientResponse) => parseProxyStatus(r.headers['proxy-status']).error;

describe('an upstream that hangs, holding its pool', () => {
  test("its route's requests get 504 http_response_timeout and the queue's overflow 503 connection_limit_reached; another route's upstream answers 200 throughout", async () => {
    const slow = await fault(startBlackhole());
    const fast = await fault(startEcho());
    const gw = await gateway(`routes:
  - { match: { path: /slow }, upstream: slow }
  - { match: { path: /fast }, upstream: fast }
upstreams:
  slow:
    targets: [{ url: ${slow.url} }]
    pool: { max_connections: 1, max_pending: 1, queue_timeout: 10s }
    timeouts: { response: 1500ms }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 2, open_time: 30s }
  fast:
    targets: [{ url: ${fast.url} }]
    pool: { max_connections: 1, max_pending: 1 }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 2, open_time: 30s }
`);
    const first = request(gw.url, { path: '/slow' });
    await slow.waitForRequest(1);
    const queued = request(gw.url, { path: '/slow' });
    // The queued one is waiting (max_pending 1): a third finds the queue full.
    await waitUntil('one request queued on slow', () => poolOf(gw, 'slow').stats().waiting === 1);
    const overflow = await request(gw.url, { path: '/slow' });
    assertGatewayError(overflow, {
      status: 503,
      error: 'connection_limit_reached',
      nextHop: 'slow',
      retryAfter: '1',
    });
    // While slow's only connection hangs and its queue is full, fast answers, one after another
    // on its own pool of one connection.
    const fastAnswers: ClientResponse[] = [];
    for (let i = 0; i < 5; i++) fastAnswers.push(await request(gw.url, { path: '/fast' }));
    assert.deepEqual(statuses(fastAnswers), [200, 200, 200, 200, 200]);
    assertGatewayError(await first, {
      status: 504,
      error: 'http_response_timeout',
      nextHop: 'slow',
      retryAfter: null,
    });
    const second = await queued;
    assertGatewayError(second, {
      status: 504,
      error: 'http_response_timeout',
      nextHop: 'slow',
      retryAfter: null,
    });
    // slow's circuit is open now (two failures in a row); fast's is closed and still answers.
    const open = await request(gw.url, { path: '/slow' });
    assertGatewayError(open, { status: 503, error: 'destination_unavailable', nextHop: 'slow' });
    assert.equal(slow.received.length, 2, 'the open circuit and the full queue sent nothing more');
    const after = await request(gw.url, { path: '/fast' });
    assert.equal(after.status, 200);
    assert.equal(fast.received.length, 6);
    assert.ok(!gw.logs.some((l) => l.msg === 'circuit opened' && l.upstream === 'fast'));
  });
});

describe('an upstream that resets every request', () => {
  test("its circuit opens; another upstream's stays closed, and its retries are not spent by the first's", async () => {
    const bad = await fault(startResetBeforeHead());
    const bad2 = await fault(startResetBeforeHead());
    const refusing = await fault(startRefusing());
    const good = await fault(startEcho());
    const gw = await gateway(`routes:
  - { match: { path: /bad }, upstream: bad }
  - { match: { path: /good }, upstream: good }
upstreams:
  bad:
    targets: [{ url: ${bad.url} }, { url: ${bad2.url} }]
    retries: { attempts: 2, backoff: { base: 1ms, max: 2ms }, budget: { ratio: 0.01, min_concurrent: 3, min_per_second: 0 } }
    circuit_breaker: { consecutive_failures: 11, open_time: 30s }
  good:
    balancer: round_robin
    targets: [{ url: ${refusing.url} }, { url: ${good.url} }]
    retries: { attempts: 2, backoff: { base: 1ms, max: 2ms }, budget: { ratio: 0.01, min_concurrent: 3, min_per_second: 0 } }
    circuit_breaker: { consecutive_failures: 11, open_time: 30s }
`);
    // bad: 10 GETs; the first three are retried (its budget's three saved up), the rest not; the
    // eleventh failure in a row opens its circuit.
    const bads: ClientResponse[] = [];
    for (let i = 0; i < 10; i++) bads.push(await request(gw.url, { path: '/bad' }));
    assert.deepEqual(statuses(bads), [502, 502, 502, 502, 502, 502, 502, 502, 503, 503]);
    assert.deepEqual(bads.slice(0, 8).map(errorOf), Array(8).fill('connection_terminated'));
    assertGatewayError(bads[9], { status: 503, error: 'destination_unavailable', nextHop: 'bad' });
    assert.equal(bad.received.length + bad2.received.length, 11, '8 tries and 3 retries');
    // good: of six GETs, three meet the refusing target first; each is retried on the other
    // target from good's own three saved up, whatever bad spent.
    const goods: ClientResponse[] = [];
    for (let i = 0; i < 6; i++) goods.push(await request(gw.url, { path: '/good' }));
    assert.deepEqual(statuses(goods), [200, 200, 200, 200, 200, 200]);
    assert.equal(good.received.length, 6);
    const opened = gw.logs.filter((l) => l.msg === 'circuit opened').map((l) => l.upstream);
    assert.deepEqual(opened, ['bad']);
  });
});

describe('one client flooding a rate-limited route', () => {
  test('its 429 names the limit; another client on that route and the same client on another route are served', async () => {
    const app = await fault(startEcho());
    const gw = await gateway(`routes:
  - { name: limited, match: { path: /limited }, upstream: app, rate_limit: { rate: 0.1, burst: 2, key: "header:x-tenant" } }
  - { name: open, match: { path: /open }, upstream: app }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`);
    const flood: ClientResponse[] = [];
    for (let i = 0; i < 6; i++)
      flood.push(await request(gw.url, { path: '/limited', headers: { 'x-tenant': 'noisy' } }));
    assert.deepEqual(statuses(flood), [200, 200, 429, 429, 429, 429]);
    for (const refused of flood.slice(2)) {
      assertGatewayError(refused, { status: 429, error: 'http_request_denied', nextHop: 'app' });
      assert.match(parseProxyStatus(refused.headers['proxy-status']).details ?? '', /rate limit/i);
      assert.ok(Number(refused.headers['retry-after']) >= 1);
    }
    const quiet = await request(gw.url, { path: '/limited', headers: { 'x-tenant': 'quiet' } });
    assert.equal(quiet.status, 200);
    const elsewhere = await request(gw.url, { path: '/open', headers: { 'x-tenant': 'noisy' } });
    assert.equal(elsewhere.status, 200);
    assert.equal(app.received.length, 4, 'the refused requests reached nothing');
  });
});

describe('a plugin that hangs or throws on one route', () => {
  test('its route gets a 500 naming the plugin and hook; a route without it answers 200', async () => {
    const app = await fault(startEcho());
    const hangs: Plugin = () => ({ onRequest: () => new Promise(() => {}) });
    const throws: Plugin = () => ({
      onRequest: () => {
        throw new Error('boom');
      },
    });
    const gw = await gateway(
      `plugins:
  hangs: { module: /nonexistent/hangs.ts, timeout: 300ms }
  throws: { module: /nonexistent/throws.ts }
routes:
  - { match: { path: /hangs }, upstream: app, plugins: [hangs] }
  - { match: { path: /throws }, upstream: app, plugins: [throws] }
  - { match: { path: /plain }, upstream: app }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
      '',
      { plugins: { hangs, throws } },
    );
    const hung = request(gw.url, { path: '/hangs' });
    const plain = await request(gw.url, { path: '/plain' });
    assert.equal(plain.status, 200);
    const threw = await request(gw.url, { path: '/throws' });
    assertGatewayError(threw, { status: 500, error: 'proxy_internal_error', details: /throws/ });
    assertGatewayError(await hung, { status: 500, error: 'proxy_internal_error', details: /hangs/ });
    assert.equal(app.received.length, 1);
    assert.equal(app.received[0].path, '/plain');
  });
});

describe('one HTTP/2 connection with streams stuck on a slow upstream', () => {
  test('its stream to a fast route is answered meanwhile; another client too; the stuck ones get their 504', async () => {
    const slow = await fault(startBlackhole());
    const fast = await fault(startEcho());
    const gw = await gateway(
      `routes:
  - { match: { path: /slow }, upstream: slow }
  - { match: { path: /fast }, upstream: fast }
upstreams:
  slow:
    targets: [{ url: ${slow.url} }]
    timeouts: { response: 2s }
    retries: { attempts: 1 }
  fast: { targets: [{ url: ${fast.url} }] }
limits:
  http2: { max_concurrent_streams: 8 }
`,
      'http2: true',
    );
    const session = http2.connect(gw.url);
    closing.push(async () => session.destroy());
    session.on('error', () => {});
    const answer = (path: string, s = session) =>
      new Promise<{ status: number; ps?: string }>((resolve, reject) => {
        const stream = s.request({ ':path': path });
        const timer = setTimeout(() => reject(new Error(`${path} not answered`)), 8000);
        stream.on('response', (head) => {
          stream.resume();
          stream.on('end', () => {
            clearTimeout(timer);
            resolve({ status: Number(head[':status']), ps: head['proxy-status'] as string | undefined });
          });
        });
        stream.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    const stuck = [1, 2, 3, 4, 5, 6].map(() => answer('/slow'));
    await slow.waitForRequest(6);
    const onSame = await answer('/fast');
    assert.equal(onSame.status, 200);
    const other = http2.connect(gw.url);
    closing.push(async () => other.destroy());
    other.on('error', () => {});
    assert.equal((await answer('/fast', other)).status, 200);
    const ends = await Promise.all(stuck);
    assert.deepEqual(
      ends.map((e) => [e.status, parseProxyStatus(e.ps).error]),
      Array(6).fill([504, 'http_response_timeout']),
    );
  });
});

describe('a health check that hangs', () => {
  test("blocks no request to its upstream and no other upstream's checks", async () => {
    // /health never answers; / does.
    const hanging = await fault(
      startRawFault(async (connection) => {
        for (;;) {
          const req = await readRequest(connection);
          if (req.path === '/health') return;
          await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      }),
    );
    const refusing = await fault(startRefusing());
    const ok = await fault(startEcho());
    const gw = await gateway(`routes:
  - { match: { path: /a }, upstream: a }
  - { match: { path: /b }, upstream: b }
upstreams:
  a:
    targets: [{ url: ${hanging.url} }]
    health_check: { path: /health, interval: 100ms, timeout: 5s, rise: 1, fall: 1 }
  b:
    targets: [{ url: ${refusing.url} }, { url: ${ok.url} }]
    retries: { attempts: 1 }
    panic_threshold: 0
    health_check: { path: /health, interval: 50ms, timeout: 1s, rise: 1, fall: 1 }
`);
    await hanging.waitForRequest(1);
    assert.equal((await request(gw.url, { path: '/a' })).status, 200);
    await waitUntil("b's refusing target down", () =>
      gw.logs.some((l) => l.msg === 'target down' && l.upstream === 'b'),
    );
    const bs: ClientResponse[] = [];
    for (let i = 0; i < 4; i++) bs.push(await request(gw.url, { path: '/b' }));
    assert.deepEqual(statuses(bs), [200, 200, 200, 200]);
    assert.equal((await request(gw.url, { path: '/a' })).status, 200);
    assert.equal(hanging.received.filter((r) => r.path === '/health').length, 1, 'never two probes at once');
  });
});

describe('a client flooding a route limited by address', () => {
  test('another address is served from its own bucket, and the flooder on another route', async () => {
    const app = await fault(startEcho());
    const gw = await gateway(`routes:
  - { match: { path: /limited }, upstream: app, rate_limit: { rate: 0.1, burst: 1 } }
  - { match: { path: /open }, upstream: app }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`);
    const from = (localAddress: string, path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port: gw.port, path, localAddress, agent: false },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.setTimeout(5000, () => req.destroy(new Error(`${path} from ${localAddress} not answered`)));
        req.on('error', reject);
      });
    const flood: number[] = [];
    for (let i = 0; i < 4; i++) flood.push(await from('127.0.0.1', '/limited'));
    assert.deepEqual(flood, [200, 429, 429, 429]);
    assert.equal(await from('127.0.0.2', '/limited'), 200);
    assert.equal(await from('127.0.0.1', '/open'), 200);
    assert.equal(app.received.length, 3);
  });
});

describe('a huge slow upload on one connection', () => {
  test('holds its share of buffer_total; a body that would pass it streams whole to its upstream, and other requests proceed', async () => {
    const app = await fault(startEcho());
    const gw = await gateway(`limits: { buffer_total: 1MiB }
routes:
  - { match: { path: / }, upstream: app }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`);
    // 900 KiB announced, 800 KiB sent, then a trickle: read whole, it holds most of the total.
    const slow = rawUpload(
      gw.port,
      `POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: ${900 * 1024}\r\n\r\n`,
      { first: Buffer.alloc(800 * 1024, 0x61), drip: { piece: 'a', everyMs: 100 } },
    );
    closing.push(async () => slow.stop());
    await waitUntil(
      'the slow upload held in part',
      () => gw.gateway.runtime().readerMemory.buffered >= 800 * 1024,
    );
    const body = Buffer.alloc(600 * 1024, 0x62);
    const other = await request(gw.url, { method: 'POST', path: '/other', body });
    assert.equal(other.status, 200);
    const got = app.received.find((r) => r.path === '/other');
    assert.ok(got);
    await app.waitForRequest(1, { body: true });
    assert.equal(got.body.length, body.length, 'the whole body reached the upstream');
    assert.equal((await request(gw.url, { path: '/get' })).status, 200);
    assert.equal(
      app.received.filter((r) => r.path === '/slow').length,
      0,
      'the slow body is still being read',
    );
    assert.equal(slow.received(), '', 'the slow upload is not refused');
  });
});

describe('a DNS name that stops resolving for one upstream', () => {
  test('that upstream keeps its last good targets; another upstream on the same resolver is untouched', async () => {
    const app = await fault(startEcho());
    const dns = await startDnsServer();
    closing.push(() => dns.close());
    dns.set('lost.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
    dns.set('kept.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
    const discovery = (name: string) =>
      `{ dns: ${name}, port: ${app.port}, resolvers: [${dns.address}], interval: 100ms, min_ttl: 100ms, max_ttl: 1s }`;
    const gw = await gateway(`routes:
  - { match: { path: /lost }, upstream: lost }
  - { match: { path: /kept }, upstream: kept }
upstreams:
  lost: { discovery: ${discovery('lost.test')} }
  kept: { discovery: ${discovery('kept.test')} }
`);
    await waitUntil('both upstreams found', () =>
      ['lost', 'kept'].every((u) => (gw.gateway.runtime().upstreams.get(u)?.targets.length ?? 0) === 1),
    );
    dns.set('lost.test', 'nxdomain');
    const asked = dns.questions.length;
    await waitUntil('lost.test asked again', () =>
      dns.questions.slice(asked).some((q) => q === 'lost.test A'),
    );
    assert.equal((await request(gw.url, { path: '/lost' })).status, 200);
    assert.equal((await request(gw.url, { path: '/kept' })).status, 200);
    dns.set('lost.test', 'silent');
    const before = dns.questions.length;
    await waitUntil('kept.test asked while lost.test is silent', () =>
      dns.questions.slice(before).some((q) => q === 'kept.test A'),
    );
    assert.equal((await request(gw.url, { path: '/kept' })).status, 200);
    assert.equal((await request(gw.url, { path: '/lost' })).status, 200);
  });
});

describe('two upstreams on one origin (one host serving two apps)', () => {
  test("one's hanging requests hold its own pool, not the other's; its ejection and circuit are its own", async () => {
    // /a hangs; /b answers.
    const origin = await fault(
      startRawFault(async (connection) => {
        for (;;) {
          const req = await readRequest(connection);
          if (req.path.startsWith('/a')) return;
          await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      }),
    );
    const gw = await gateway(`routes:
  - { match: { path: /a }, upstream: a }
  - { match: { path: /b }, upstream: b }
upstreams:
  a:
    targets: [{ url: ${origin.url} }]
    pool: { max_connections: 1, max_pending: 0 }
    timeouts: { response: 1500ms }
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 30s }
    circuit_breaker: { consecutive_failures: 1, open_time: 30s }
    panic_threshold: 0
  b:
    targets: [{ url: ${origin.url} }]
    pool: { max_connections: 1, max_pending: 0 }
    retries: { attempts: 1 }
    panic_threshold: 0
`);
    const hung = request(gw.url, { path: '/a' });
    await origin.waitForRequest(1);
    const full = await request(gw.url, { path: '/a' });
    assertGatewayError(full, {
      status: 503,
      error: 'connection_limit_reached',
      nextHop: 'a',
      retryAfter: '1',
    });
    assert.equal((await request(gw.url, { path: '/b' })).status, 200, "b's pool is its own");
    assertGatewayError(await hung, { status: 504, error: 'http_response_timeout', nextHop: 'a' });
    const refused = await request(gw.url, { path: '/a' });
    assertGatewayError(refused, { status: 503, error: 'destination_unavailable', nextHop: 'a' });
    const bs: number[] = [];
    for (let i = 0; i < 3; i++) bs.push((await request(gw.url, { path: '/b' })).status);
    assert.deepEqual(bs, [200, 200, 200], "a's ejection and circuit are not b's");
    assert.equal(origin.received.filter((r) => r.path === '/b').length, 4);
  });
});

describe("a health check that hangs, beside its upstream's other targets", () => {
  test("one target's hanging probe holds back no other target's probes: the refusing one is taken out", async () => {
    const hanging = await fault(
      startRawFault(async (connection) => {
        for (;;) {
          const req = await readRequest(connection);
          if (req.path === '/health') return;
          await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      }),
    );
    const refusing = await fault(startRefusing());
    const gw = await gateway(`routes:
  - { match: { path: / }, upstream: app }
upstreams:
  app:
    targets: [{ url: ${hanging.url} }, { url: ${refusing.url} }]
    retries: { attempts: 1 }
    health_check: { path: /health, interval: 50ms, timeout: 10s, rise: 1, fall: 2 }
`);
    await hanging.waitForRequest(1);
    await waitUntil('the refusing target down', () =>
      gw.logs.some((l) => l.msg === 'target down' && l.target === refusing.url),
    );
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) answers.push((await request(gw.url, { path: '/x' })).status);
    assert.deepEqual(answers, [200, 200, 200, 200]);
    assert.equal(hanging.received.filter((r) => r.path === '/health').length, 1);
  });
});

describe("an HTTP/2 connection's streams past a hanging upstream's queue", () => {
  test('the overflow stream gets 503 connection_limit_reached, and the connection serves another route on', async () => {
    const slow = await fault(startBlackhole());
    const fast = await fault(startEcho());
    const gw = await gateway(
      `routes:
  - { match: { path: /slow }, upstream: slow }
  - { match: { path: /fast }, upstream: fast }
upstreams:
  slow:
    targets: [{ url: ${slow.url} }]
    pool: { max_connections: 1, max_pending: 1, queue_timeout: 10s }
    timeouts: { response: 1500ms }
    retries: { attempts: 1 }
  fast: { targets: [{ url: ${fast.url} }] }
`,
      'http2: true',
    );
    const session = http2.connect(gw.url);
    closing.push(async () => session.destroy());
    session.on('error', () => {});
    const answer = (path: string) =>
      new Promise<{ status: number; ps?: string; retryAfter?: string }>((resolve, reject) => {
        const stream = session.request({ ':path': path });
        const timer = setTimeout(() => reject(new Error(`${path} not answered`)), 8000);
        stream.on('response', (head) => {
          stream.resume();
          stream.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: Number(head[':status']),
              ps: head['proxy-status'] as string | undefined,
              retryAfter: head['retry-after'] as string | undefined,
            });
          });
        });
        stream.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    const first = answer('/slow');
    await slow.waitForRequest(1);
    const queued = answer('/slow');
    await waitUntil('one stream queued on slow', () => poolOf(gw, 'slow').stats().waiting === 1);
    const overflow = await answer('/slow');
    assert.deepEqual(
      [overflow.status, parseProxyStatus(overflow.ps).error, overflow.retryAfter],
      [503, 'connection_limit_reached', '1'],
    );
    assert.equal((await answer('/fast')).status, 200);
    for (const stuck of await Promise.all([first, queued]))
      assert.deepEqual([stuck.status, parseProxyStatus(stuck.ps).error], [504, 'http_response_timeout']);
    assert.equal(slow.received.length, 2);
  });
});
