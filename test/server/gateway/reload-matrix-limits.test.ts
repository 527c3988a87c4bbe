/**
 * What a reload changes in the listener's and the route's limits (docs/operations.md, "Reload":
 * `limits` and `max_in_flight` apply to new requests, those of connections already open
 * included): a real gateway started with one value, reloaded with another, the next request on a
 * connection open across the reload meeting the new one.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reload = (gw: TestGateway, yaml: string, listener = '') =>
  gw.gateway.reload(
    parseConfig(
      `listen:\n  - address: 127.0.0.1:0\n${listener ? `    ${listener}\n` : ''}${yaml}`,
      '<test>',
      {},
    ),
  );

/** One raw client connection: what it was sent so far, and whether the gateway closed it. */
async function rawConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  const waiters = new Set<() => void>();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
    for (const w of waiters) w();
  });
  /** Waits until `pattern` has been received (or the connection closed), returns all received. */
  const until = (pattern: RegExp) =>
    new Promise<string>((resolve) => {
      const check = () => {
        if (!pattern.test(received)) return;
        waiters.delete(check);
        resolve(received);
      };
      waiters.add(check);
      void closed.then(() => resolve(received));
      check();
    });
  return { socket, until, closed, received: () => received };
}

const appOn = (url: string, extra = '') => `name: edge-1
${extra}
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${url}" }]
`;

test('header_timeout and keep_alive_timeout lowered by a reload govern the next request of a connection open across it', async () => {
  const app = await startEcho();
  const gw = await startTestGateway(
    appOn(app.url, 'limits: { header_timeout: 60s, keep_alive_timeout: 60s }'),
  );
  const first = await rawConnection(gw.port);
  const second = await rawConnection(gw.port);
  try {
    first.socket.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    second.socket.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    await first.until(/\r\n\r\n\{[^\n]*\}\n/);
    await second.until(/\r\n\r\n\{[^\n]*\}\n/);

    await reload(gw, appOn(app.url, 'limits: { header_timeout: 200ms, keep_alive_timeout: 200ms }'));
    // A head begun after the reload and never finished: the new header_timeout answers it.
    first.socket.write('GET /2 HTTP/1.1\r\nHost: a\r\n');
    const timedOut = await first.until(/HTTP\/1\.1 408 /);
    assert.match(
      timedOut,
      /HTTP\/1\.1 408 /,
      'the head left unfinished is answered 408 under the new header_timeout',
    );
    // A request after the reload: the idle time after its answer is the new keep_alive_timeout.
    second.socket.write('GET /3 HTTP/1.1\r\nHost: a\r\n\r\n');
    await second.closed;
    assert.equal(
      (second.received().match(/HTTP\/1\.1 200 /g) ?? []).length,
      2,
      'both answered, then closed idle',
    );
    assert.equal(app.received.length, 3);
  } finally {
    first.socket.destroy();
    second.socket.destroy();
    await gw.close();
    await app.close();
  }
});

test("max_in_flight, per_client.requests and a route's body limit added by a reload govern the next request", async () => {
  const app = await startEcho();
  const gw = await startTestGateway(appOn(app.url));
  try {
    assert.equal((await request(gw.url, { method: 'POST', path: '/', body: 'x'.repeat(100) })).status, 200);

    await reload(gw, appOn(app.url, 'limits: { per_client: { requests: 1 } }'));
    const slow = request(gw.url, { path: '/?delay=400' });
    await until(() => app.received.length === 2);
    const refused = await request(gw.url, { path: '/second' });
    assert.equal(refused.status, 429, 'the new per-client bound: one request in flight at most');
    assert.equal((await slow).status, 200);

    await reload(gw, appOn(app.url), 'max_in_flight: 1');
    const held = request(gw.url, { path: '/?delay=400' });
    await until(() => app.received.length === 3);
    const shed = await request(gw.url, { path: '/third' });
    assert.equal(shed.status, 503, "the listener's new max_in_flight sheds the second request");
    assert.equal(shed.headers['retry-after'], '1');
    assert.equal((await held).status, 200);

    await reload(
      gw,
      appOn(app.url).replace('    upstream: app', '    upstream: app\n    limits: { body: 10 }'),
    );
    const big = await request(gw.url, { method: 'POST', path: '/', body: 'x'.repeat(100) });
    assert.equal(big.status, 413, "the route's new body limit refuses the larger body");
    assert.equal(app.received.length, 3, 'nothing more reached the upstream');
  } finally {
    await gw.close();
    await app.close();
  }
});

test('max_connections lowered by a reload closes the next connection past it, the open one served on', async () => {
  const app = await startEcho();
  const gw = await startTestGateway(appOn(app.url));
  const open = await rawConnection(gw.port);
  try {
    open.socket.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    await open.until(/HTTP\/1\.1 200 /);
    await reload(gw, appOn(app.url), 'max_connections: 1');
    const past = await rawConnection(gw.port);
    past.socket.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    await past.closed;
    assert.equal(past.received(), '', 'closed unread, as one past the bound is');
    open.socket.write('GET /3 HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(
      ((await open.until(/(HTTP\/1\.1 200 [\s\S]*){2}/)).match(/HTTP\/1\.1 200 /g) ?? []).length,
      2,
    );
    assert.deepEqual(
      app.received.map((r) => r.path),
      ['/1', '/3'],
    );
  } finally {
    open.socket.destroy();
    await gw.close();
    await app.close();
  }
});

/** Polls `done` each few milliseconds (the test's own timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}
