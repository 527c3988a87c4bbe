/**
 * The shutdown of `candor/app` on a real server and real connections: not ready first (the
 * app still served), then stop accepting, idle keep-alive connections (and ones that never
 * carried a request) closed at once, the
 * response in flight finished with `Connection: close`, a response whose head had left followed
 * by the close, the cleanup hooks after the last connection; at the deadline, what never ends
 * is cut.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { type AppEvent, createApp, serveApp } from '../../../src/kits/app/index.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { request } from '../../helpers/http-client.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { connectRefused } from '../../server/gateway/candor-process.ts';
import { rawConnection } from './raw-connection.ts';

/** A handler whose `/slow` and `/stream` requests wait for `release()`; `/hang` never ends. */
function heldHandler() {
  const held: (() => void)[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/slow') {
      held.push(() => res.end('slow done\n'));
      return;
    }
    if (req.url === '/stream') {
      // The head leaves now, saying keep-alive; the body ends later.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '12' });
      res.write('stream part\n'.slice(0, 6));
      held.push(() => res.end('stream part\n'.slice(6)));
      return;
    }
    if (req.url === '/hang') {
      held.push(() => {}); // counted as arrived; never answered
      return;
    }
    res.end('ok\n');
  };
  const release = () => {
    for (const end of held.splice(0)) end();
  };
  return { handler, held, release };
}

test('shutdown order: not ready, delay, stop accepting, idle closed, in-flight finished with Connection: close, cleanup, stopped', async () => {
  const events: AppEvent[] = [];
  const held = heldHandler();
  const hookSaw: string[] = [];
  let proceed = () => {};
  const delayOver = new Promise<void>((resolve) => {
    proceed = resolve;
  });
  const { app, port, ready } = await serveApp(held.handler, {
    host: '127.0.0.1',
    // Long enough for the three checks made during it on a loaded machine (a bounded wait, not a figure).
    shutdown: { delay: 1_500, timeout: 60_000 },
    onShutdown: () => {
      hookSaw.push(`hook: state ${app.state}, ${held.held.length} held`);
    },
    signals: [],
    exit: false,
    log: (event) => {
      events.push(event);
      if (event.msg === 'draining: stopped accepting') proceed();
    },
  });
  await ready;
  const base = `http://127.0.0.1:${port}`;
  const idle = await rawConnection(port);
  idle.send('/');
  await idle.responses(1);
  const busy = await rawConnection(port);
  busy.send('/slow');
  const streaming = await rawConnection(port);
  streaming.send('/stream');
  await waitUntil('the stream head sent', () => streaming.text().includes('\r\n\r\n'));
  await waitUntil('both held', () => held.held.length === 2);
  // Open, never used: what a gateway's pool parks after opening a connection it did not need.
  const silent = await rawConnection(port);
  try {
    const stopped = app.shutdown('test');
    // The delay: not ready, but a new connection is accepted and served.
    assert.equal((await request(base, { path: '/ready' })).status, 503);
    assert.equal((await request(base, { path: '/' })).text, 'ok\n');
    assert.equal(idle.isClosed(), false, 'idle connections stay during the delay');
    assert.deepEqual(
      events.map((e) => e.msg),
      ['ready', 'draining: not ready'],
    );

    await delayOver;
    assert.deepEqual(events.at(-1), { msg: 'draining: stopped accepting', in_flight: 2, connections: 4 });
    await idle.closed;
    await silent.closed;
    assert.equal(silent.text(), '', 'the connection that never carried a request closed at once too');
    assert.equal(
      idle.text().split('HTTP/1.1').length - 1,
      1,
      'the idle connection closed without another response',
    );
    assert.equal(await connectRefused(port), true, 'no new connection once it stopped accepting');
    assert.equal(busy.isClosed(), false, 'the request in flight goes on');

    held.release();
    const [slow] = await busy.responses(1);
    assert.match(slow, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(slow, /\r\nConnection: close\r\n/, 'the response in flight says Connection: close');
    assert.doesNotMatch(slow, /\r\nKeep-Alive:/);
    assert.match(slow, /\r\n\r\nslow done\n$/);
    await busy.closed;
    const [stream] = await streaming.responses(1);
    assert.match(stream, /\r\nConnection: keep-alive\r\n/, 'this head left before the shutdown');
    assert.match(stream, /\r\n\r\nstream part\n$/);
    await streaming.closed;

    const report = await stopped;
    assert.equal(report.reason, 'test');
    assert.equal(report.forced, 0);
    assert.equal(report.cleanupFailures, 0);
    assert.deepEqual(hookSaw, ['hook: state closing, 0 held']);
    assert.deepEqual(
      events.map((e) => e.msg),
      ['ready', 'draining: not ready', 'draining: stopped accepting', 'stopped'],
    );
    assert.equal(app.state, 'stopped');
  } finally {
    for (const c of [idle, busy, streaming, silent]) c.destroy();
    app.hurry();
  }
});

test('at the deadline a request that never ends is cut; the cleanup hooks still run, failures counted', async () => {
  const events: AppEvent[] = [];
  const held = heldHandler();
  const ran: string[] = [];
  const { app, port, ready } = await serveApp(held.handler, {
    host: '127.0.0.1',
    shutdown: { delay: 0, timeout: 300, cleanupTimeout: 200 },
    onShutdown: [
      () => {
        ran.push('first');
        throw new Error('queue flush failed');
      },
      () => {
        ran.push('second');
        return new Promise(() => {}); // never settles: cut by cleanupTimeout
      },
    ],
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  await ready;
  const hung = await rawConnection(port);
  hung.send('/hang');
  await waitUntil('the request reached the app', () => held.held.length === 1);
  const report = await app.shutdown('test');
  await hung.closed;
  assert.equal(hung.text(), '', 'cut with nothing sent');
  assert.deepEqual(report, { reason: 'test', forced: 1, cleanupFailures: 2, ms: report.ms });
  assert.deepEqual(ran, ['first', 'second']);
  assert.deepEqual(
    events.map((e) => e.msg),
    [
      'ready',
      'draining: not ready',
      'draining: stopped accepting',
      'draining: deadline, connections cut',
      'cleanup failed',
      'cleanup failed',
      'stopped',
    ],
  );
  assert.deepEqual(events[3], { msg: 'draining: deadline, connections cut', connections: 1 });
  assert.deepEqual(events[4], { msg: 'cleanup failed', hook: 0, error: 'queue flush failed' });
  assert.deepEqual(events[5], {
    msg: 'cleanup failed',
    hook: 1,
    error: 'cleanup still running after 200 ms',
  });
});

test('hurry() (a second signal) during the delay cuts at once; shutdown() twice is one shutdown', async () => {
  const events: AppEvent[] = [];
  const held = heldHandler();
  const { app, port, ready } = await serveApp(held.handler, {
    host: '127.0.0.1',
    shutdown: { delay: 60_000, timeout: 120_000 },
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  await ready;
  const busy = await rawConnection(port);
  busy.send('/slow');
  await waitUntil('held', () => held.held.length === 1);
  const first = app.shutdown('first');
  assert.equal(app.shutdown('second'), first);
  app.hurry();
  const report = await first;
  await busy.closed;
  assert.equal(report.reason, 'first');
  assert.equal(report.forced, 1);
  assert.deepEqual(
    events.map((e) => e.msg),
    [
      'ready',
      'draining: not ready',
      'draining: stopped accepting',
      'draining: second signal, connections cut',
      'stopped',
    ],
  );
});

test('hurry() before any shutdown hurries none: a later one cuts at its deadline, logged as the deadline', async () => {
  const events: AppEvent[] = [];
  const held = heldHandler();
  const { app, port, ready } = await serveApp(held.handler, {
    host: '127.0.0.1',
    shutdown: { delay: 0, timeout: 300 },
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  await ready;
  app.hurry(); // a stray call: no shutdown under way to bring forward
  const hung = await rawConnection(port);
  hung.send('/hang');
  await waitUntil('the request reached the app', () => held.held.length === 1);
  const report = await app.shutdown('test');
  await hung.closed;
  assert.equal(report.forced, 1);
  assert.deepEqual(
    events.map((e) => e.msg),
    [
      'ready',
      'draining: not ready',
      'draining: stopped accepting',
      'draining: deadline, connections cut',
      'stopped',
    ],
  );
});

test('over TLS (https.createServer) the request in flight at the stop finishes too, with Connection: close', async () => {
  const { localhost, ca } = testCertificates();
  const events: AppEvent[] = [];
  const held = heldHandler();
  const app = createApp({
    shutdown: { delay: 0, timeout: 10_000 },
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  const server = app.attach(
    https.createServer({ cert: localhost.cert, key: localhost.key }, app.handle(held.handler)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await app.start();
  const { port } = server.address() as AddressInfo;
  const answer = new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/slow', ca, servername: 'localhost', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }),
        );
      })
      .on('error', reject);
  });
  await waitUntil('held', () => held.held.length === 1);
  const stopped = app.shutdown('test');
  await waitUntil('stopped accepting', () => events.some((e) => e.msg === 'draining: stopped accepting'));
  held.release();
  assert.deepEqual(await answer, { status: 200, connection: 'close', body: 'slow done\n' });
  assert.equal((await stopped).forced, 0);
});

test('an upgraded connection (a WebSocket) is not closed at the stop but cut at the deadline', async () => {
  const events: AppEvent[] = [];
  const { app, server, port, ready } = await serveApp((_req, res) => res.end('ok\n'), {
    host: '127.0.0.1',
    shutdown: { delay: 0, timeout: 400 },
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  server.on('upgrade', (_req, socket: Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  await ready;
  const tunnel = await rawConnection(port);
  tunnel.send('/socket', { upgrade: 'websocket', connection: 'Upgrade' });
  await waitUntil('switched', () => tunnel.text().startsWith('HTTP/1.1 101'));
  const stopped = app.shutdown('test');
  await waitUntil('stopped accepting', () => events.some((e) => e.msg === 'draining: stopped accepting'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(tunnel.isClosed(), false, 'the tunnel outlives the stop');
  const report = await stopped;
  await tunnel.closed;
  assert.equal(report.forced, 1);
  assert.deepEqual(events.map((e) => e.msg).slice(-3), [
    'draining: stopped accepting',
    'draining: deadline, connections cut',
    'stopped',
  ]);
});

test('a shutdown before the app was ever ready skips the delay: no gateway that checks /ready sent it anything', async () => {
  const events: AppEvent[] = [];
  const { app, port } = await serveApp((_req, res) => res.end('app\n'), {
    host: '127.0.0.1',
    ready: () => new Promise<boolean>(() => {}), // a dependency that never answers
    shutdown: { delay: 60_000, timeout: 120_000 },
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  assert.equal((await request(`http://127.0.0.1:${port}`, { path: '/ready' })).status, 503);
  const report = await app.shutdown('SIGTERM');
  assert.equal(report.forced, 0);
  const draining = events.find((e) => e.msg === 'draining: not ready');
  assert.equal(draining?.delay_ms, 0, 'the 60 s delay was not waited');
  assert.deepEqual(
    events.map((e) => e.msg),
    ['draining: not ready', 'draining: stopped accepting', 'stopped'],
  );
});

test('a log function that throws ends neither the readiness check nor the drain: the hooks run, the shutdown resolves', async () => {
  const seen: string[] = [];
  const cleaned: string[] = [];
  const { app, ready, port } = await serveApp((_req, res) => res.end('app\n'), {
    host: '127.0.0.1',
    shutdown: { delay: 0, timeout: 5_000 },
    signals: [],
    exit: false,
    onShutdown: () => {
      cleaned.push('pool closed');
    },
    log: (event) => {
      seen.push(event.msg);
      throw new Error('EPIPE: the log stream is gone');
    },
  });
  await ready;
  assert.equal((await request(`http://127.0.0.1:${port}`, { path: '/ready' })).status, 200);
  const report = await app.shutdown('SIGTERM');
  assert.equal(report.forced, 0);
  assert.deepEqual(cleaned, ['pool closed']);
  assert.deepEqual(seen, ['ready', 'draining: not ready', 'draining: stopped accepting', 'stopped']);
});
