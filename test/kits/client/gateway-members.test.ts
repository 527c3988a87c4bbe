/**
 * What candor/client reads from a gateway's Proxy-Status, through a real `candor serve`: only
 * the member of the gateway it talks to (the last one), and the scope of a pause, which is the
 * upstream that member names in `next-hop`, not every route of the gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { type LoopbackServer, listenOnLoopback } from '../../helpers/loopback-server.ts';
import { type ClientGateway, startClientGateway } from './gateway-fixture.ts';

/** The gateway's own retries and ejection off: each client attempt is one request upstream. */
const plain = '    outlier_detection: { consecutive_failures: 0 }\n    retries: { attempts: 1 }\n';

let copier: LoopbackServer;
let copierPosts = 0;
let api: LoopbackServer;
let apiRequests = 0;
let dead: Fault;
let refusing: Fault;
let gateway: ClientGateway;

before(async () => {
  // An origin that answers 502 and copies an inner gateway's Proxy-Status onto its answer.
  copier = await listenOnLoopback((req, res) => {
    if (req.method === 'POST') copierPosts++;
    req.resume();
    req.on('end', () => {
      res.writeHead(502, { 'proxy-status': 'inner-gw; error=connection_refused; next-hop="db"' });
      res.end('bad gateway\n');
    });
  });
  api = await listenOnLoopback((req, res) => {
    apiRequests++;
    req.resume();
    req.on('end', () => res.end('ok\n'));
  });
  dead = await startRefusing();
  refusing = await startRefusing();
  gateway = await startClientGateway({
    '/copier': `    targets:\n      - url: ${copier.url}\n${plain}`,
    '/api': `    targets:\n      - url: ${api.url}\n${plain}`,
    // One refused attempt opens this upstream's circuit: the next answer is 503
    // destination_unavailable with Retry-After (the seconds until the probe) and next-hop "u2".
    '/dead': `    targets:\n      - url: ${dead.url}\n${plain}    circuit_breaker: { consecutive_failures: 1, open_time: 60s }\n`,
    // Always a 502 connection_refused, next-hop "u3": the gateway's own circuit never opens.
    '/refused': `    targets:\n      - url: ${refusing.url}\n${plain}    circuit_breaker: { consecutive_failures: 0 }\n`,
  });
});

after(async () => {
  await gateway?.stop();
  await Promise.all([copier?.close(), api?.close(), dead?.close(), refusing?.close()]);
});

test("a POST whose 502 carries an inner gateway's error under this gateway's received-status is not resent: it reached the origin", async () => {
  const reports: AttemptReport[] = [];
  const client = createFetch({ backoff: { base: 1, cap: 5 }, onAttemptFailed: (r) => reports.push(r) });
  const res = await client(`${gateway.url}/copier/orders`, { method: 'POST', body: '{"sku":1}' });
  assert.equal(res.status, 502);
  assert.equal(
    res.headers.get('proxy-status'),
    'inner-gw; error=connection_refused; next-hop="db", client-edge; received-status=502; next-hop="u0"',
  );
  await res.arrayBuffer();
  assert.equal(copierPosts, 1, 'the origin processed the POST once');
  assert.equal(reports.length, 1);
  assert.equal(reports[0].proxyStatus?.proxy, 'client-edge');
  assert.equal(reports[0].proxyStatus?.receivedStatus, 502);
  assert.equal(reports[0].type, undefined);
  assert.equal(reports[0].retry, false);
  assert.equal(reports[0].reason, 'not_idempotent');
});

test("a gateway's pause for one upstream (503 Retry-After, next-hop u2) holds that upstream's calls, not another route's", async () => {
  const reports: AttemptReport[] = [];
  const client = createFetch({
    attempts: 1,
    deadline: 5_000,
    circuitBreaker: false,
    onAttemptFailed: (r) => reports.push(r),
  });
  // The first call is refused (502) and opens the gateway's circuit for u2; the second meets it.
  const refused = await client(`${gateway.url}/dead/x`);
  assert.equal(refused.status, 502);
  await refused.arrayBuffer();
  const paused = await client(`${gateway.url}/dead/x`);
  assert.equal(paused.status, 503);
  assert.match(
    paused.headers.get('proxy-status') ?? '',
    /^client-edge; error=destination_unavailable;.*next-hop="u2"$/,
  );
  const announced = Number(paused.headers.get('retry-after'));
  assert.ok(announced > 5, `Retry-After ${announced} reaches past the 5 s deadline`);
  await paused.arrayBuffer();

  // The paused upstream's path is held: the call ends at once, unsent (the pause outlasts its deadline).
  await assert.rejects(client(`${gateway.url}/dead/x`), (error: unknown) => {
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_DEADLINE');
    assert.match(error.message, /pause/);
    return true;
  });

  // Another route of the same gateway is not paused: its calls go and get their 200.
  const before = apiRequests;
  const ok = await client(`${gateway.url}/api/orders`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'ok\n');
  const post = await client(`${gateway.url}/api/orders`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 200);
  await post.arrayBuffer();
  assert.equal(apiRequests, before + 2);

  // Five access lines in all (the first test's, two for /dead, two for /api): the held call never went.
  await gateway.serve.waitForLines('request', 5);
  assert.equal(gateway.requestsTo('/dead').length, 2);
  assert.deepEqual(
    reports.map((r) => [r.status, r.type, r.proxyStatus?.nextHop]),
    [
      [502, 'connection_refused', 'u2'],
      [503, 'destination_unavailable', 'u2'],
    ],
  );
});

test("one upstream's failures behind a gateway open the client's circuit for that upstream, not for the gateway's other routes", async () => {
  const client = createFetch({ attempts: 1, circuitBreaker: { failures: 2, openTime: 60_000 } });
  for (let i = 0; i < 2; i++) {
    const res = await client(`${gateway.url}/refused/x`);
    assert.equal(res.status, 502);
    assert.match(
      res.headers.get('proxy-status') ?? '',
      /^client-edge; error=connection_refused;.*next-hop="u3"$/,
    );
    await res.arrayBuffer();
  }
  await assert.rejects(client(`${gateway.url}/refused/x`), (error: unknown) => {
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_CIRCUIT_OPEN');
    assert.match(error.message, /its upstream "u3"/);
    return true;
  });
  const before = apiRequests;
  const ok = await client(`${gateway.url}/api/orders`);
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  assert.equal(apiRequests, before + 1);
});

test("an origin's own 503 Retry-After (no gateway member) pauses the whole origin", async () => {
  const origin = await listenOnLoopback((req, res) => {
    req.resume();
    if (req.url === '/busy') res.writeHead(503, { 'retry-after': '60' });
    res.end();
  });
  try {
    const client = createFetch({ attempts: 1, deadline: 5_000 });
    const busy = await client(`${origin.url}/busy`);
    assert.equal(busy.status, 503);
    await busy.arrayBuffer();
    await assert.rejects(client(`${origin.url}/other`), (error: unknown) => {
      assert.ok(error instanceof UpstreamError);
      assert.equal(error.code, 'UPSTREAM_DEADLINE');
      return true;
    });
  } finally {
    await origin.close();
  }
});
