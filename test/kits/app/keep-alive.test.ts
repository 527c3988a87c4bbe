/**
 * Keep-alive timeouts of `candor/app`: the app keeps an idle connection 5 s longer than the
 * gateway does, its header timeout above that, and every keep-alive response carries the
 * `Keep-Alive: timeout=N` hint, which Candor's pool reads: behind a real gateway, the gateway
 * is the side that closes an idle connection.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { createApp, keepAliveTimeoutsFor, serveApp } from '../../../src/kits/app/index.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { rawConnection } from './raw-connection.ts';

const quiet = { signals: [], exit: false, log: false, shutdown: { delay: 0, timeout: 1000 } } as const;

test('the rule: keepAliveTimeout = the gateway idle timeout + 5 s, headersTimeout 1 s above it', () => {
  assert.deepEqual(keepAliveTimeoutsFor(60_000), { keepAliveTimeout: 65_000, headersTimeout: 66_000 });
  assert.deepEqual(keepAliveTimeoutsFor(30_000), { keepAliveTimeout: 35_000, headersTimeout: 36_000 });
  const app = createApp({ log: false });
  assert.equal(
    app.settings.keepAliveTimeout,
    65_000,
    'default: above nginx and ALB (60 s) and Candor (30 s)',
  );
  assert.equal(app.settings.headersTimeout, 66_000);
});

test('the server gets the timeouts and every keep-alive response says Keep-Alive: timeout=N', async () => {
  const one = await serveApp((_req, res) => res.end('ok\n'), { ...quiet, host: '127.0.0.1' });
  const two = await serveApp((_req, res) => res.end('ok\n'), {
    ...quiet,
    host: '127.0.0.1',
    gatewayIdleTimeout: 30_000,
  });
  const connections = [];
  try {
    assert.equal(one.server.keepAliveTimeout, 65_000);
    assert.equal(one.server.headersTimeout, 66_000);
    assert.equal(one.server.requestTimeout, 300_000, "Node's default, already above");
    assert.equal(two.server.keepAliveTimeout, 35_000);
    assert.equal(two.server.headersTimeout, 36_000);
    for (const [served, hint] of [
      [one, 65],
      [two, 35],
    ] as const) {
      const connection = await rawConnection(served.port);
      connections.push(connection);
      connection.send('/');
      connection.send('/again');
      const answers = await connection.responses(2);
      for (const answer of answers) {
        assert.match(answer, /\r\nConnection: keep-alive\r\n/);
        assert.match(answer, new RegExp(`\\r\\nKeep-Alive: timeout=${hint}\\r\\n`));
      }
    }
    // The probes too: a gateway's health check may share the pool.
    const probe = await rawConnection(one.port);
    connections.push(probe);
    probe.send('/ready');
    assert.match((await probe.responses(1))[0], /\r\nKeep-Alive: timeout=65\r\n/);
  } finally {
    for (const c of connections) c.destroy();
    await Promise.all([one.app.shutdown(), two.app.shutdown()]);
  }
});

test("behind a real Candor the gateway closes an idle connection first: its pool reads the app's hint", async () => {
  // The app announces timeout=6 (a 1 s gateway idle timeout + 5 s); Candor's pool keeps
  // 30 s by default but shortens it to the hint less a second: 5 s, before the app's 6 s.
  const peerClosed: boolean[] = [];
  const served = await serveApp((_req, res) => res.end('ok\n'), {
    ...quiet,
    host: '127.0.0.1',
    gatewayIdleTimeout: 1_000,
  });
  served.server.on('connection', (socket: Socket) => {
    let ended = false;
    socket.on('end', () => {
      ended = true; // a FIN from the gateway, before the app closed its side
    });
    socket.on('close', () => peerClosed.push(ended));
  });
  const gateway = await startTestGateway(`
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${served.port}" }]
log: { level: silent }
`);
  try {
    const answer = await request(gateway.url, { path: '/' });
    assert.equal(answer.status, 200);
    assert.equal(
      answer.headers['keep-alive'],
      undefined,
      'a hop-by-hop hint stays between the gateway and the app',
    );
    await waitUntil('the idle upstream connection closed', () => peerClosed.length === 1, 15_000);
    assert.deepEqual(peerClosed, [true], 'the gateway closed it, not the app');
  } finally {
    await gateway.close();
    await served.app.shutdown();
  }
});
