/** Load shedding: max_in_flight per route and per listener, answered 503 at once, never queued. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { type ClientResponse, request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** Indented under the listener item the test gateway writes first (`- address: 127.0.0.1:0`). */
const listenerMax = (n: number) => `    max_in_flight: ${n}\n`;

function twoRoutes(
  url: string,
  options: { listener?: string; routeA?: string; wsUrl?: string; ws?: string } = {},
): string {
  return `${options.listener ?? ''}name: edge-1
routes:
  - match: { path: /a }
    name: a
    upstream: app
${options.routeA ?? ''}
  - match: { path: /b }
    name: b
    upstream: app
  - match: { path: /ws }
    upstream: ws
upstreams:
  app:
    targets:
      - url: ${url}
  ws:
    targets:
      - url: ${options.wsUrl ?? url}
${options.ws ?? ''}
`;
}

/** Requests that are answered once every one of them is over; `over` tells whether they are. */
function hold(requests: Promise<ClientResponse>[]): { all: Promise<ClientResponse[]>; over: () => boolean } {
  let over = false;
  const all = Promise.all(requests).then((responses) => {
    over = true;
    return responses;
  });
  return { all, over: () => over };
}

test('route max_in_flight 2: two held requests pass, the third is shed with 503 at once; then the count is back to zero', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(twoRoutes(echo.url, { routeA: '    max_in_flight: 2' }));
  try {
    const held = hold([request(gw.url, { path: '/a?delay=500' }), request(gw.url, { path: '/a?delay=500' })]);
    await echo.waitForRequest(2);
    const shed = await request(gw.url, {
      path: '/a/x',
      headers: { accept: 'application/json', 'x-request-id': 'shed-1' },
    });
    assert.equal(
      held.over(),
      false,
      'the shed request was answered while the held ones were still in flight',
    );
    assert.equal(shed.status, 503);
    assert.equal(shed.headers['retry-after'], '1');
    assert.equal(shed.headers['cache-control'], 'no-store');
    assert.match(
      String(shed.headers['x-request-id']),
      /^[0-9a-f-]{36}$/,
      "the gateway's id, not the client's",
    );
    assert.equal(
      shed.headers['proxy-status'],
      'edge-1; error=proxy_internal_response; details="load shed: the route \\"a\\" already has 2 requests in flight (max_in_flight 2)"; next-hop="app"',
    );
    assert.equal(JSON.parse(shed.text).retry_after, 1);
    const line = await gw.logFor('shed-1');
    assert.equal(line.level, 'warn');
    assert.equal(line.status, 503);
    assert.equal(line.error, 'proxy_internal_response');
    assert.equal(line.shape, 'gateway');
    assert.equal(line.route, 'a');
    assert.equal(echo.received.length, 2, 'the shed request never reached the upstream');

    const other = await request(gw.url, { path: '/b' });
    assert.equal(other.status, 200, 'another route has slots of its own');

    assert.deepEqual(
      (await held.all).map((r) => r.status),
      [200, 200],
    );
    const again = await Promise.all([
      request(gw.url, { path: '/a?delay=50' }),
      request(gw.url, { path: '/a' }),
    ]);
    assert.deepEqual(
      again.map((r) => r.status),
      [200, 200],
      'both slots are free again',
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('listener max_in_flight 2 counts every route: a third request on any route is shed', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(twoRoutes(echo.url, { listener: listenerMax(2) }));
  try {
    const held = hold([request(gw.url, { path: '/a?delay=500' }), request(gw.url, { path: '/b?delay=500' })]);
    await echo.waitForRequest(2);
    const shed = await request(gw.url, { path: '/b' });
    assert.equal(held.over(), false);
    assert.equal(shed.status, 503);
    assert.equal(shed.headers['retry-after'], '1');
    assert.match(
      String(shed.headers['proxy-status']),
      /^edge-1; error=proxy_internal_response; details="load shed: the listener 127\.0\.0\.1:0 already has 2 requests in flight \(max_in_flight 2\)"; next-hop="app"$/,
    );
    assert.deepEqual(
      (await held.all).map((r) => r.status),
      [200, 200],
    );
    const again = await Promise.all([request(gw.url, { path: '/a' }), request(gw.url, { path: '/b' })]);
    assert.deepEqual(
      again.map((r) => r.status),
      [200, 200],
    );
    assert.equal(echo.received.length, 4);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a client that hangs up gives its slot back', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(twoRoutes(echo.url, { routeA: '    max_in_flight: 1' }));
  try {
    const req = http.request(`${gw.url}/a?delay=5000`, { agent: false, headers: { 'x-request-id': 'gone' } });
    req.on('error', () => {});
    req.end();
    await echo.waitForRequest(1);
    assert.equal((await request(gw.url, { path: '/a' })).status, 503, 'the slot is taken');
    req.destroy();
    const line = await gw.logFor('gone');
    assert.equal(line.client_aborted, true);
    assert.equal(line.status, 499);
    const after = await request(gw.url, { path: '/a' });
    assert.equal(after.status, 200);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a client over its rate gets 429 before load shedding, and takes no slot', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    twoRoutes(echo.url, {
      routeA: '    max_in_flight: 1\n    rate_limit: { rate: 0.5, burst: 1, key: "header:x-api-key" }',
    }),
  );
  try {
    const held = hold([request(gw.url, { path: '/a?delay=300', headers: { 'x-api-key': 'alice' } })]);
    await echo.waitForRequest(1);
    const overRate = await Promise.all(
      [1, 2, 3].map(() => request(gw.url, { path: '/a', headers: { 'x-api-key': 'alice' } })),
    );
    assert.deepEqual(
      overRate.map((r) => r.status),
      [429, 429, 429],
    );
    const shed = await request(gw.url, { path: '/a', headers: { 'x-api-key': 'bob' } });
    assert.equal(shed.status, 503);
    assert.equal(held.over(), false);
    await held.all;
    // Bob's shed request spent his token (the rate limit is asked first); Carol has hers.
    const carol = await request(gw.url, { path: '/a', headers: { 'x-api-key': 'carol' } });
    assert.equal(carol.status, 200, 'the 429s left no slot taken');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('an upgrade holds a listener slot while it is set up, and gives it back when that fails or the tunnel is up', async () => {
  const echo = await startEcho();
  const blackhole = await startBlackhole();
  const gw = await startTestGateway(
    twoRoutes(echo.url, {
      listener: listenerMax(1),
      wsUrl: blackhole.url,
      ws: '    timeouts: { response: 300ms }',
    }),
  );
  try {
    const pending = openUpgrade(gw.port);
    const answer = readAll(pending);
    await blackhole.waitForRequest(1);
    assert.equal(
      (await request(gw.url, { path: '/a' })).status,
      503,
      'the upgrade being set up holds the slot',
    );
    assert.match(await answer, /^HTTP\/1\.1 504 /, 'the upstream never answered the upgrade');
    assert.equal(await statusWithin(gw.url, '/a', 200, 2000), 200, 'the failed upgrade gave its slot back');
  } finally {
    await gw.close();
    await blackhole.close();
  }
  const tunnelled = await startTestGateway(twoRoutes(echo.url, { listener: listenerMax(1) }));
  try {
    const tunnel = openUpgrade(tunnelled.port);
    const head = await new Promise<string>((resolve) =>
      tunnel.once('data', (c: Buffer) => resolve(c.toString())),
    );
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.equal((await request(tunnelled.url, { path: '/a' })).status, 200, 'an open tunnel holds no slot');
    tunnel.destroy();
  } finally {
    await tunnelled.close();
    await echo.close();
  }
});

/** Everything the server sends until it closes. */
function readAll(socket: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks).toString())));
}

function openUpgrade(port: number): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  return socket;
}

/** The first status that matches within the time, else the last one seen (the gateway notices a close on its own schedule). */
async function statusWithin(url: string, path: string, wanted: number, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let status = 0;
  while (performance.now() < until) {
    status = (await request(url, { path })).status;
    if (status === wanted) break;
    await sleep(20);
  }
  return status;
}
