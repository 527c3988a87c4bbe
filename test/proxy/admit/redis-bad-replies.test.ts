/**
 * `store.redis` answered by a server that is not quite Redis (a proxy in front of it, another
 * program on its port, a key overwritten by hand): a reply that is not a decision of our
 * script is an error of the store, decided by on_error, never a pass and never a Retry-After
 * the limit could not have produced.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type FakeRedis, startFakeRedis } from '../../helpers/fake-redis.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

let echo: Fault;
let store: FakeRedis;
let reply = ':0\r\n';
const open: TestGateway[] = [];

before(async () => {
  echo = await startEcho();
  store = await startFakeRedis(() => reply);
});

after(() => closeAll(open, store, echo));

async function gateway(onError: 'allow' | 'deny') {
  const g = await startTestGateway(`
store:
  redis: { url: "${store.url}", on_error: ${onError}, timeout: 2s }
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 1, burst: 5 }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  open.push(g);
  await waitUntil('connected to the store', () => g.gateway.status().store?.state === 'up');
  return g;
}

const get = (g: TestGateway) => request(g.url, { path: '/x', headers: { accept: 'application/json' } });

test('on_error deny: a negative number, a fraction, a string, an empty array, nil or a wait beyond the window is refused as a store error', async () => {
  const g = await gateway('deny');
  const bad = {
    negative: ':-7\r\n',
    fraction: '$3\r\n0.5\r\n',
    string: '$4\r\nsoon\r\n',
    'empty array': '*0\r\n',
    nil: '$-1\r\n',
    'status reply': '+OK\r\n',
    'beyond the window': ':999999999\r\n',
    'just beyond the window (burst 5 / rate 1)': ':6\r\n',
  };
  for (const [what, raw] of Object.entries(bad)) {
    reply = raw;
    const answer = await get(g);
    assert.equal(answer.status, 503, what);
    assert.equal(JSON.parse(answer.text).error, 'proxy_internal_response', what);
    // Neither maintenance nor load shedding, which the body said it was.
    assert.match(
      JSON.parse(answer.text).detail,
      /a limit it could not check\)\. Details: the rate limit store/,
      what,
    );
    assert.match(String(answer.headers['proxy-status']), /error=proxy_internal_response/, what);
    assert.equal(answer.headers['retry-after'], '1', what);
  }
  assert.equal(echo.received.length, 0, 'no limited request reached the upstream');
  assert.equal(g.gateway.status().store?.state, 'down');
  const down = g.logs.filter((l) => l.msg.startsWith('rate limit store unreachable'));
  assert.equal(down.length, 1, 'the store going bad is logged once');
  assert.match(String(down[0].err), /the store answered -7, not a wait of 0 to 5 s/);
  const metrics = (await g.gateway.metrics.exposition()).text;
  assert.match(metrics, /candor_store_fallback_decisions_total\{store="redis",decision="deny"\} 8/);

  // Good replies again: a pass, and a wait within the window sent as it is.
  reply = ':0\r\n';
  assert.equal((await get(g)).status, 200);
  // Told reachable again once its decisions have come in time for a second (redis-rates.ts).
  for (let i = 0; g.gateway.status().store?.state !== 'up'; i++) {
    assert.ok(i < 200, 'the store is told reachable again');
    assert.equal((await get(g)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const passed = echo.received.length;
  reply = ':5\r\n';
  const limited = await get(g);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '5');
  assert.match(String(limited.headers['proxy-status']), /error=http_request_denied/);
  assert.equal(echo.received.length, passed, 'the limited request did not reach the upstream');
});

test('on_error allow: a reply that is not a decision lets the request through, counted as a fallback', async () => {
  const g = await gateway('allow');
  const before = echo.received.length;
  reply = '$3\r\n0.5\r\n';
  const answer = await get(g);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['retry-after'], undefined);
  assert.equal(echo.received.length, before + 1);
  const metrics = (await g.gateway.metrics.exposition()).text;
  assert.match(metrics, /candor_store_fallback_decisions_total\{store="redis",decision="allow"\} 1/);
});
