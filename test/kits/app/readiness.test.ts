/**
 * The readiness gate and the probes of `candor/app` on a real server: 503 with Retry-After
 * until the app's own check passes, 200 then, 503 again from the first moment of a shutdown
 * while the app itself is still served; liveness 200 throughout.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { type AppEvent, serveApp } from '../../../src/kits/app/index.ts';
import { request } from '../../helpers/http-client.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** A GET on a keep-alive agent: status, Connection header, body. */
function get(url: string, agent: http.Agent): Promise<{ status: number; connection?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
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
}

test('/ready answers 503 with Retry-After until the check passes, then 200; /live is 200 throughout', async () => {
  const events: AppEvent[] = [];
  let checks = 0;
  let pass = false;
  const { app, server, port, ready } = await serveApp((_req, res) => res.end('app\n'), {
    host: '127.0.0.1',
    ready: async () => {
      checks++;
      if (!pass) throw new Error('database not reachable');
    },
    readyRetry: 20,
    retryAfter: 7,
    shutdown: { delay: 0, timeout: 2000 },
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('checked twice', () => checks >= 2);
    assert.equal(app.state, 'starting');
    const starting = await request(base, { path: '/ready' });
    assert.equal(starting.status, 503);
    assert.equal(starting.headers['retry-after'], '7');
    assert.equal(starting.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(starting.text), { status: 'not ready', state: 'starting' });
    const live = await request(base, { path: '/live' });
    assert.equal(live.status, 200);
    assert.deepEqual(JSON.parse(live.text), { status: 'live', state: 'starting' });
    assert.equal(events[0].msg, 'not ready yet');
    assert.equal(events[0].error, 'database not reachable');

    pass = true;
    await ready;
    assert.equal(app.state, 'ready');
    assert.equal(events.at(-1)?.msg, 'ready');
    const answer = await request(base, { path: '/ready?from=probe' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['retry-after'], undefined);
    assert.deepEqual(JSON.parse(answer.text), { status: 'ready' });
    const head = await request(base, { method: 'HEAD', path: '/ready' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await request(base, { path: '/readyz' })).text, 'app\n', 'only the exact path is a probe');
  } finally {
    server.closeAllConnections();
    await app.shutdown();
  }
});

test('a check that returns false is "not yet"; without a check the app is ready at start()', async () => {
  let answers = [false, false, true];
  const events: AppEvent[] = [];
  const one = await serveApp(() => {}, {
    ready: () => answers.shift(),
    readyRetry: 10,
    shutdown: { delay: 0, timeout: 2000 },
    signals: [],
    exit: false,
    log: (event) => events.push(event),
  });
  await one.ready;
  assert.equal(one.app.state, 'ready');
  assert.deepEqual(
    events.map((e) => [e.msg, e.attempt ?? e.attempts]),
    [
      ['not ready yet', 1],
      ['ready', 3],
    ],
    'one line per reason, not one per retry',
  );
  assert.equal(events[0].error, 'the check returned false');
  answers = [];
  const two = await serveApp(() => {}, {
    shutdown: { delay: 0, timeout: 2000 },
    signals: [],
    exit: false,
    log: false,
  });
  await two.ready;
  assert.equal(two.app.state, 'ready');
  await Promise.all([one.app.shutdown(), two.app.shutdown()]);
});

test('from the first moment of a shutdown /ready is 503 while the app and /live are still served', async () => {
  const { app, port, ready } = await serveApp((_req, res) => res.end('still served\n'), {
    host: '127.0.0.1',
    paths: { ready: '/_app/ready', live: '/_app/live' },
    shutdown: { delay: 60_000, timeout: 120_000 },
    signals: [],
    exit: false,
    log: false,
  });
  const base = `http://127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await ready;
    assert.equal((await request(base, { path: '/_app/ready' })).status, 200);
    assert.equal(
      (await request(base, { path: '/ready' })).text,
      'still served\n',
      "the default path is the app's now",
    );
    const stopped = app.shutdown('test');
    assert.equal(app.state, 'draining');
    const draining = await request(base, { path: '/_app/ready' });
    assert.equal(draining.status, 503);
    assert.equal(draining.headers['retry-after'], '5');
    assert.deepEqual(JSON.parse(draining.text), { status: 'not ready', state: 'draining' });
    assert.equal((await request(base, { path: '/_app/live' })).status, 200);
    const served = await get(`${base}/work`, agent);
    assert.equal(served.status, 200);
    assert.equal(served.body, 'still served\n');
    assert.equal(served.connection, 'keep-alive', 'the delay changes nothing but readiness');
    app.hurry();
    assert.equal((await stopped).reason, 'test');
  } finally {
    agent.destroy();
    app.hurry();
    await app.shutdown();
  }
});

test('a bad option is a clear error at createApp, not a surprise at the first deploy', async () => {
  const { createApp } = await import('../../../src/kits/app/index.ts');
  assert.throws(() => createApp({ shutdown: { delay: 30_000, timeout: 10_000 } }), {
    name: 'RangeError',
    message:
      'candor/app: shutdown.delay (30000 ms) must be shorter than shutdown.timeout (10000 ms), or the deadline cuts requests the delay keeps serving',
  });
  assert.throws(() => createApp({ paths: { ready: 'ready' } }), {
    message: 'candor/app: paths.ready must be a path starting with "/", not "ready"',
  });
  assert.throws(() => createApp({ paths: { ready: '/health', live: '/health' } }), {
    message: 'candor/app: paths.ready and paths.live are both /health',
  });
  assert.throws(() => createApp({ gatewayIdleTimeout: 30 }), {
    message: 'candor/app: gatewayIdleTimeout must be a number of milliseconds from 1000 to 3600000, not 30',
  });
  assert.throws(() => createApp({ retryAfter: 1.5 }), {
    message: 'candor/app: retryAfter must be whole seconds from 0 to 86400, not 1.5',
  });
  assert.throws(() => createApp({ ready: true as unknown as () => boolean }), {
    message: 'candor/app: ready must be a function (the dependency check)',
  });
  assert.throws(() => createApp({ onShutdown: ['close' as unknown as () => void] }), {
    message: 'candor/app: onShutdown must be a function or an array of functions',
  });
});

test('an option createApp does not read is refused, naming it and the one meant: a misspelt check or hook is never ignored', async () => {
  const { createApp, serveApp } = await import('../../../src/kits/app/index.ts');
  // Plain JavaScript (TypeScript would catch these): each was ignored, the app ready at once
  // without its dependency check, the delay the default, the hook never run.
  const js = (options: object) => () => createApp(options as never);
  assert.throws(js({ readyCheck: () => true }), {
    name: 'TypeError',
    message:
      "candor/app: options has no option 'readyCheck' (it takes ready, readyRetry, paths, retryAfter, gatewayIdleTimeout, shutdown, onShutdown, signals, exit, log)",
  });
  assert.throws(js({ onShutDown: () => {} }), {
    message: "candor/app: options has no option 'onShutDown' (did you mean 'onShutdown'?)",
  });
  assert.throws(js({ shutdown: { dealy: 20_000 } }), {
    message: "candor/app: shutdown has no option 'dealy' (did you mean 'delay'?)",
  });
  assert.throws(js({ paths: { health: '/healthz' } }), {
    message: "candor/app: paths has no option 'health' (it takes ready, live)",
  });
  // serveApp's own options go to the server, not to createApp; a stray one is refused there too.
  await assert.rejects(
    serveApp(() => {}, { prot: 3000 } as never),
    {
      message: "candor/app: options has no option 'prot' (did you mean 'port'?)",
    },
  );
  const { app, server } = await serveApp(() => {}, {
    port: 0,
    host: '127.0.0.1',
    serverOptions: {},
    log: false,
  });
  await app.shutdown('test');
  server.close();
});

test('a probe in absolute form (RFC 9112 §3.2.2: a server must accept it) is the probe, not the app’s path: a catch-all 200 never hides a drain', async () => {
  const { app, port, ready } = await serveApp((_req, res) => res.end('catch-all\n'), {
    host: '127.0.0.1',
    shutdown: { delay: 5_000, timeout: 10_000 },
    signals: [],
    exit: false,
    log: false,
  });
  const ask = (target: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () =>
        socket.write(`GET ${target} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`),
      );
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  let stopping: ReturnType<typeof app.shutdown> | undefined;
  try {
    await ready;
    stopping = app.shutdown('test');
    const probe = await ask(`http://127.0.0.1:${port}/ready?from=probe`);
    assert.match(probe, /^HTTP\/1\.1 503 /);
    assert.match(probe, /\{"status":"not ready","state":"draining"\}\n$/);
    assert.match(await ask('HTTP://APP/live'), /\{"status":"live","state":"draining"\}\n$/);
    // Not a probe: another path, and what is no URL at all.
    assert.match(await ask('http://app/ready/x'), /catch-all\n$/);
    assert.match(await ask('*'), /catch-all\n$/);
  } finally {
    app.hurry();
    await stopping;
  }
});
