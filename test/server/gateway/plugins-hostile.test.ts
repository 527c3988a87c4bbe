/**
 * Hostile plugins (docs/hostile-peers.md, "Plugins that misbehave"): one plugin whose hooks do,
 * by the path they are called on, what a user's code can do wrong. Over a real gateway and a real
 * upstream that records what reached it, each shape is checked for what the client gets, what the
 * upstream got, the log lines naming the plugin and its hook, /metrics, and that the same gateway
 * serves the next request. (Timers, unhandled rejections, process.exit from a timer: through
 * `candor serve` in plugins-stray.test.ts; the process guard in plugins-process-guard.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Failure } from '../../../src/core/failure/failure.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startSshBanner } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin, PluginAnswer, PluginRequest } from '../../../src/proxy/stages/plugin-api.ts';
import { type ClientResponse, h2Get, rawRequest, request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

const TIMEOUT_MS = 300;

// gc(), to see that nothing holds a request's objects once it ended.
setFlagsFromString('--expose-gc');

/** A value every trap of which throws. */
const trapped = new Proxy(
  {},
  new Proxy(
    {},
    {
      get: () => () => {
        throw new Error('a trap threw');
      },
    },
  ),
);

/** A stream of `total` bytes made as it is read; `pulled` counts what was made. */
function lazyBytes(total: number, pulled: { bytes: number }): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024);
  return new ReadableStream({
    pull(controller) {
      if (pulled.bytes >= total) return controller.close();
      pulled.bytes += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

function erroringMidway(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ < 2) controller.enqueue(new TextEncoder().encode('part '));
      else controller.error(new Error('the stream broke'));
    },
  });
}

const never = (): Promise<never> => new Promise(() => {});
const later = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

const pulled = { bytes: 0 };
const late: { edited?: boolean } = {};
/** The request views the plugin was given, held weakly: the gateway must let them go. */
const held: WeakRef<object>[] = [];

/** What onRequest does, by its path. */
const onRequest: Record<string, (r: PluginRequest) => unknown> = {
  '/throw/string': () => {
    throw 'a string';
  },
  '/throw/null': () => {
    throw null;
  },
  '/throw/number': () => {
    throw 42;
  },
  '/throw/symbol': () => {
    throw Symbol('thrown');
  },
  '/throw/getter': () => {
    throw {
      get message() {
        throw new Error('getter');
      },
      get stack() {
        throw new Error('getter');
      },
    };
  },
  '/throw/proxy': () => {
    throw trapped;
  },
  '/throw/frozen-error': () => {
    throw Object.freeze(new Error('frozen'));
  },
  '/reject/string': () => Promise.reject('a string'),
  '/reject/symbol': () => Promise.reject(Symbol('rejected')),
  '/reject/proxy': () => Promise.reject(trapped),
  '/thenable/throws': () => ({
    // biome-ignore lint/suspicious/noThenProperty: a thenable whose then throws, on purpose
    then() {
      throw new Error('then threw');
    },
  }),
  '/never': never,
  '/late/edit': async (r) => {
    await later(TIMEOUT_MS + 200);
    r.headers.set('x-late', 'yes');
    late.edited = true;
  },
  '/late/answer': async () => {
    await later(TIMEOUT_MS + 200);
    return { status: 418 };
  },
  '/block': () => {
    const end = performance.now() + TIMEOUT_MS + 300;
    while (performance.now() < end);
  },
  // An async hook runs up to its first await at once: a busy loop there holds the loop as a sync hook's does.
  '/block/async': async () => {
    const end = performance.now() + TIMEOUT_MS + 300;
    while (performance.now() < end);
  },
  '/failure/forged': () => {
    throw new Failure('connection_refused', 'the upstream refused (a lie)');
  },
  '/failure/forged-async': async () => {
    throw new Failure('destination_unavailable', 'no target (a lie)');
  },
  '/answer/not': () => 42,
  '/answer/status0': () => ({ status: 0 }),
  '/answer/status99': () => ({ status: 99 }),
  '/answer/status600': () => ({ status: 600 }),
  '/answer/status100': () => ({ status: 100 }),
  '/answer/status101': () => ({ status: 101, headers: { upgrade: 'websocket' } }),
  '/answer/status-nan': () => ({ status: Number.NaN }),
  '/answer/body-number': () => ({ status: 200, body: 12 }),
  '/answer/204-body': () => ({ status: 204, body: 'not allowed' }),
  '/answer/304-body': () => ({ status: 304, body: 'not allowed' }),
  '/answer/head-bytes': () => ({
    status: 200,
    headers: { 'content-length': '999', 'transfer-encoding': 'chunked' },
    body: 'abc',
  }),
  '/answer/crlf': () => new Response('x', { headers: { 'x-bad': 'a\r\nb' } }),
  '/answer/nonascii': () => new Response('x', { headers: { 'x-bad': 'caf\u20ac' } }),
  '/answer/latin1': () => new Response('x', { headers: { 'x-ok': 'caf\u00e9' } }),
  '/answer/pseudo': () => new Response('x', { headers: { ':status': '200' } }),
  '/answer/request-id': () =>
    new Response('x', { headers: { 'x-request-id': 'forged', 'proxy-status': 'forged' } }),
  '/answer/stream-error': () => new Response(erroringMidway()),
  '/answer/gigabyte': () => new Response(lazyBytes(1024 ** 3, pulled)),
  '/answer/stream-never': () => new Response(new ReadableStream({ pull: never })),
  '/answer/block': () => {
    const end = performance.now() + TIMEOUT_MS + 300;
    while (performance.now() < end);
    return { status: 418 };
  },
  '/held': (r) => {
    held.push(new WeakRef(r));
  },
  '/edit/crlf': (r) => {
    r.headers.set('x-bad', 'a\r\nb');
  },
  '/edit/nul': (r) => {
    r.headers.set('x-bad', 'a\0b');
  },
  '/edit/nonascii': (r) => {
    r.headers.set('x-bad', 'caf\u20ac');
  },
  '/edit/latin1': (r) => {
    r.headers.set('x-ok', 'caf\u00e9');
  },
  '/edit/bad-name': (r) => {
    r.headers.set('bad name', 'v');
  },
  '/edit/pseudo': (r) => {
    r.headers.set(':status', '200');
  },
  '/edit/length': (r) => {
    r.headers.set('content-length', '5');
  },
  '/edit/te': (r) => {
    r.headers.set('transfer-encoding', 'chunked');
  },
  '/edit/host': (r) => {
    r.headers.set('host', 'evil.example');
  },
  '/edit/request-id': (r) => {
    r.headers.delete('x-request-id');
    r.headers.set('x-request-id', 'forged');
  },
  '/body/twice': async (r) => {
    const one = await r.body();
    const two = await r.body();
    r.headers.set('x-twice', String(Buffer.from(one).equals(Buffer.from(two))));
  },
  '/process/exit': () => process.exit(7),
  '/process/kill': () => process.kill(process.pid),
  '/process/abort': () => process.abort(),
  '/process/chdir': (r) => {
    process.chdir(process.cwd());
    r.headers.set('x-did', 'chdir');
  },
  '/process/env': (r) => {
    process.env.CANDOR_HOSTILE_WROTE = '1';
    delete process.env.CANDOR_HOSTILE_WROTE;
    r.headers.set('x-did', 'env');
  },
  '/process/child': async (r) => {
    const { execFileSync } = await import('node:child_process');
    r.headers.set('x-did', execFileSync('echo', ['spawned']).toString().trim());
  },
  '/fetch/refused': (r) => ctx.fetch('refused', '/', { request: r }),
  '/fetch/silent': (r) => ctx.fetch('silent', '/', { request: r, timeout: TIMEOUT_MS / 2 }),
  // At the default deadline, which ends before the hook's own: the service's 504, never the hook's overrun.
  '/fetch/silent-default': (r) => ctx.fetch('silent', '/', { request: r }),
  '/fetch/garbage': (r) => ctx.fetch('garbage', '/', { request: r }),
};

/** What onResponse does, by its path. */
const onResponse: Record<string, (res: { status: number; headers: Headers }, r: PluginRequest) => unknown> = {
  '/down/throw-string': () => {
    throw 'a string';
  },
  '/down/never': never,
  '/down/status': (res) => {
    (res as { status: number }).status = 0;
  },
  '/down/crlf': (res) => {
    res.headers.set('x-bad', 'a\r\nb');
  },
  '/down/nonascii': (res) => {
    res.headers.set('x-bad', 'caf\u20ac');
  },
  '/down/length': (res) => {
    res.headers.set('content-length', '1');
  },
  '/down/te': (res) => {
    res.headers.set('transfer-encoding', 'chunked');
  },
  '/down/answer': () => new Response('instead', { status: 403 }),
  '/down/body-after': async (_res, r) => {
    await r.body();
  },
  '/down/block': () => {
    const end = performance.now() + TIMEOUT_MS + 300;
    while (performance.now() < end);
  },
  '/down/block/async': async () => {
    const end = performance.now() + TIMEOUT_MS + 300;
    while (performance.now() < end);
  },
  '/down/late-edit': async (res) => {
    await later(TIMEOUT_MS + 200);
    res.headers.set('x-late', 'yes');
  },
};

let ctx: Parameters<Plugin>[1];
const hostile: Plugin = (_options, context) => {
  ctx = context;
  return {
    onRequest: (r) => onRequest[r.path]?.(r) as PluginAnswer | undefined,
    onResponse: (res, r) => onResponse[r.path]?.(res, r) as undefined,
    onEnd(record) {
      if (record.path === '/end/throw') throw Symbol('from onEnd');
      if (record.path === '/end/never') return never();
      if (record.path === '/end/block' || record.path === '/end/block/async') {
        const end = performance.now() + TIMEOUT_MS + 300;
        while (performance.now() < end);
        if (record.path === '/end/block/async') return Promise.resolve();
      }
    },
  };
};

describe("a plugin that misbehaves in every way a user's code can", () => {
  let app: Fault;
  let gw: TestGateway;
  const closers: Fault[] = [];
  before(async () => {
    app = await startEcho();
    const refused = await startRefusing();
    const silent = await startBlackhole();
    const garbage = await startSshBanner();
    closers.push(refused, silent, garbage);
    gw = await startTestGateway(
      `metrics:
  listen: 127.0.0.1:0
plugins:
  hostile: { module: /nonexistent/hostile.ts, timeout: ${TIMEOUT_MS}ms }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [hostile] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  refused: { targets: [{ url: ${refused.url} }] }
  silent: { targets: [{ url: ${silent.url} }] }
  garbage: { targets: [{ url: ${garbage.url} }] }
`,
      {},
      '',
      { plugins: { hostile } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
    for (const c of closers) await c.close();
  });

  /** The request on `path`, and after it a plain one that must be served (the gateway lives on). */
  async function go(path: string, init: { method?: string; body?: string } = {}): Promise<ClientResponse> {
    const res = await request(gw.url, { path, timeoutMs: 5000, ...init });
    const next = await request(gw.url, { path: '/fine', timeoutMs: 5000 });
    assert.equal(next.status, 200, `the request after ${path}`);
    return res;
  }

  /** A named 500: Proxy-Status names the plugin and the hook, the log's stage failed line too, nothing reached the upstream. */
  async function named500(path: string, what: RegExp, hook = 'onRequest'): Promise<void> {
    const before = app.received.length;
    const res = await go(path);
    assert.equal(res.status, 500, `${path}: ${res.status} ${res.headers['proxy-status']}`);
    assert.match(String(res.headers['proxy-status']), /^candor; error=proxy_internal_error; /);
    assert.match(String(res.headers['proxy-status']), what);
    const id = String(res.headers['x-request-id']);
    const line = await gw.logFor(id);
    assert.deepEqual([line.status, line.error], [500, 'proxy_internal_error']);
    await waitUntil(`${path}: a stage failed line`, () =>
      gw.logs.some((l) => l.msg === 'stage failed' && l.req_id === id && l.stage === 'plugin:hostile'),
    );
    const told = gw.logs.find((l) => l.msg === 'stage failed' && l.req_id === id);
    assert.equal(told?.hook, hook);
    assert.notEqual(told?.err, undefined);
    // The stack never goes to the client.
    assert.doesNotMatch(res.text, /at .*\.ts:\d+/);
    if (hook === 'onRequest')
      assert.equal(app.received.length - before - 1, 0, `${path} reached the upstream`);
  }

  for (const path of [
    '/throw/string',
    '/throw/null',
    '/throw/number',
    '/throw/symbol',
    '/throw/getter',
    '/throw/proxy',
    '/throw/frozen-error',
    '/reject/string',
    '/reject/symbol',
    '/reject/proxy',
    '/thenable/throws',
    '/answer/not',
    '/answer/status0',
    '/answer/status99',
    '/answer/status600',
    '/answer/status100',
    '/answer/status101',
    '/answer/status-nan',
    '/answer/body-number',
    '/answer/crlf',
    '/answer/nonascii',
    '/answer/pseudo',
    '/answer/stream-error',
    '/edit/crlf',
    '/edit/nul',
    '/edit/nonascii',
    '/edit/bad-name',
    '/edit/pseudo',
    '/process/exit',
    '/process/kill',
    '/process/abort',
  ])
    test(`onRequest ${path}: a 500 naming plugin:hostile and onRequest`, () =>
      named500(path, /details="plugin:hostile threw in onRequest"/));

  test('onRequest that never settles: a 500 naming the overrun', () =>
    named500('/never', /details="plugin:hostile overran its 300 ms in onRequest"/));

  test('onRequest that blocks the event loop past its time: a 500 naming the overrun', () =>
    named500('/block', /details="plugin:hostile overran its 300 ms in onRequest"/));

  test('an async onRequest that blocks the event loop past its time before its first await: a 500 naming the overrun', () =>
    named500('/block/async', /details="plugin:hostile overran its 300 ms in onRequest"/));

  test('an answer whose body never ends: a 500 naming the overrun', () =>
    named500('/answer/stream-never', /details="plugin:hostile overran its 300 ms in onRequest"/));

  test('an answer returned after blocking the loop past its time: the overrun, not the answer', async () => {
    await named500('/answer/block', /details="plugin:hostile overran its 300 ms in onRequest"/);
    const line = gw.logs.findLast((l) => l.path === '/answer/block' && l.status === 500);
    assert.equal(line?.answered_by, undefined);
  });

  test('a request on another connection while a hook blocks the loop: held meanwhile, then served', async () => {
    const blocked = request(gw.url, { path: '/block', timeoutMs: 5000 });
    // Sent once the gateway has the blocking request (its connection is already open).
    await later(20);
    const other = request(gw.url, { path: '/fine', timeoutMs: 5000 });
    const [b, o] = await Promise.all([blocked, other]);
    assert.equal(b.status, 500);
    assert.equal(o.status, 200);
    assert.equal((await gw.logFor(String(o.headers['x-request-id']))).status, 200);
  });

  test('onResponse that blocks the event loop past its time: a 500 naming the overrun', () =>
    named500('/down/block', /details="plugin:hostile overran its 300 ms in onResponse"/, 'onUpstreamHead'));

  test('an async onResponse that blocks the event loop past its time before its first await: a 500 naming the overrun', () =>
    named500(
      '/down/block/async',
      /details="plugin:hostile overran its 300 ms in onResponse"/,
      'onUpstreamHead',
    ));

  test('the gateway keeps no request the plugin saw once it ended (but what its pooled upstream connections began under)', async () => {
    const n = 100;
    for (let i = 0; i < n; i++)
      assert.equal((await request(gw.url, { path: '/held', timeoutMs: 5000 })).status, 200);
    const gc = runInNewContext('gc') as () => void;
    const kept = (): number => held.filter((r) => r.deref() !== undefined).length;
    // A deref keeps its target for the rest of its job: gc() runs only in a job that made none.
    for (let i = 0; i < 20; i++) {
      await later(50);
      gc();
      await later(50);
      if (kept() <= app.connections) break;
    }
    // Not one a request: at most one a connection to the upstream, kept while that connection lives.
    assert.ok(kept() <= app.connections, `${kept()} of ${n} kept, ${app.connections} upstream connections`);
  });

  test('onRequest that resolves past its time and edits the request then: its edit goes nowhere', async () => {
    await named500('/late/edit', /overran its 300 ms in onRequest/);
    await waitUntil('the late edit made', () => late.edited === true);
    assert.equal(
      app.received.find((r) => r.headers['x-late'] !== undefined),
      undefined,
    );
  });

  test('onRequest that answers past its time: the 500 stands, the log does not say the plugin answered', async () => {
    const res = await go('/late/answer');
    assert.equal(res.status, 500);
    await later(TIMEOUT_MS + 300);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.equal(line.answered_by, undefined);
  });

  test("a Failure the plugin made itself is its bug, not the upstream's refusal", () =>
    named500('/failure/forged', /details="plugin:hostile threw in onRequest"/));

  test("a Failure the plugin made itself, rejected: its bug, not the route's lack of targets", () =>
    named500('/failure/forged-async', /details="plugin:hostile threw in onRequest"/));

  test('an answer of 204 or 304 with a body: no body on the wire', async () => {
    for (const status of [204, 304]) {
      const raw = await rawRequest(
        gw.port,
        `GET /answer/${status}-body HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      );
      const text = raw.raw;
      assert.match(text, new RegExp(`^HTTP/1.1 ${status} `));
      assert.doesNotMatch(text, /not allowed/);
      assert.doesNotMatch(text.split('\r\n\r\n')[0], /content-length: [1-9]/i);
    }
  });

  test("an answer's framing fields and the gateway's own are not the plugin's to write", async () => {
    const res = await go('/answer/head-bytes');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'abc');
    assert.equal(res.headers['content-length'], '3');
    assert.equal(res.headers['transfer-encoding'], undefined);
    const forged = await go('/answer/request-id');
    assert.notEqual(forged.headers['x-request-id'], 'forged');
    assert.equal(forged.headers['proxy-status'], undefined);
  });

  test('an answer with a Latin-1 value: sent as its bytes', async () => {
    const res = await go('/answer/latin1');
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(String(res.headers['x-ok']), 'latin1').toString('latin1'), 'caf\u00e9');
  });

  test('an answer whose body is a lazy gigabyte: a 500 naming it, the stream read no further than the bound', async () => {
    await named500('/answer/gigabyte', /details="plugin:hostile threw in onRequest"/);
    assert.ok(pulled.bytes <= 2 * 1024 * 1024, `${pulled.bytes} bytes pulled`);
  });

  test("request edits of framing and the request id do not reach the upstream's wire", async () => {
    for (const path of ['/edit/length', '/edit/te', '/edit/request-id']) {
      const res = await go(path);
      // Dropped, as the route's header rules' are: never a lie on the upstream's wire.
      assert.equal(res.status, 200, path);
      const got = app.received.find((r) => r.path === path);
      assert.ok(got, path);
      assert.equal(got.headers['content-length'], undefined, path);
      assert.equal(got.headers['transfer-encoding'], undefined, path);
      assert.equal(got.headers['x-request-id'], String(res.headers['x-request-id']), path);
    }
  });

  test('a Latin-1 request field goes upstream as its bytes', async () => {
    const res = await go('/edit/latin1');
    assert.equal(res.status, 200);
    const got = app.received.find((r) => r.path === '/edit/latin1');
    assert.equal(got?.headers['x-ok'], 'caf\u00e9');
  });

  test('the body read twice: the same bytes, and the upstream gets them once', async () => {
    const res = await go('/body/twice', { method: 'POST', body: 'hello' });
    assert.equal(res.status, 200);
    const got = app.received.find((r) => r.path === '/body/twice');
    assert.equal(got?.headers['x-twice'], 'true');
    assert.equal(got?.body.toString(), 'hello');
  });

  // Not refused: a plugin runs with the worker's rights (docs/plugins.md, Trust), no sandbox.
  for (const [path, did] of [
    ['/process/chdir', 'chdir'],
    ['/process/env', 'env'],
    ['/process/child', 'spawned'],
  ] as const)
    test(`onRequest ${path}: not refused, the request goes on`, async () => {
      const res = await go(path);
      assert.equal(res.status, 200);
      assert.equal(app.received.find((r) => r.path === path)?.headers['x-did'], did);
    });

  for (const [path, type, status] of [
    ['/fetch/refused', 'connection_refused', 502],
    ['/fetch/silent', 'connection_timeout', 504],
    ['/fetch/silent-default', 'connection_timeout', 504],
    ['/fetch/garbage', 'http_protocol_error', 502],
  ] as const)
    test(`a service that is ${path.split('/')[2]}: ${status} naming it as the next hop`, async () => {
      const before = app.received.length;
      const res = await go(path);
      assert.equal(res.status, status, String(res.headers['proxy-status']));
      const ps = String(res.headers['proxy-status']);
      assert.match(ps, /next-hop="[^"]*(refused|silent|garbage)"/);
      assert.doesNotMatch(ps, /proxy_internal_error/);
      assert.equal(app.received.length - before, 1, 'only /fine reached the upstream');
      void type;
    });

  for (const path of ['/down/throw-string', '/down/status', '/down/crlf', '/down/nonascii', '/down/answer'])
    test(`onResponse ${path}: a 500 naming plugin:hostile and onResponse`, () =>
      named500(path, /details="plugin:hostile threw in onResponse"/, 'onUpstreamHead'));

  test('onResponse that never settles: a 500 naming the overrun', () =>
    named500('/down/never', /details="plugin:hostile overran its 300 ms in onResponse"/, 'onUpstreamHead'));

  test("onResponse that sets framing fields: the client gets a valid answer, the framing the gateway's", async () => {
    for (const path of ['/down/length', '/down/te']) {
      const res = await go(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-length'], String(res.body.length), path);
      assert.equal(res.headers['transfer-encoding'], undefined, path);
      assert.equal(res.aborted, false, path);
      assert.ok(res.body.length > 1, path);
    }
  });

  test('onResponse reading the request body after it went upstream: its bug, named (no hang)', async () => {
    const res = await go('/down/body-after', { method: 'POST', body: 'hello' });
    assert.equal(res.status, 500);
    assert.equal(
      res.headers['proxy-status'],
      'candor; error=proxy_internal_error; received-status=200; details="plugin:hostile threw in onResponse"; next-hop="app"',
    );
  });

  test('onResponse edits past its time: not on the answer', async () => {
    const res = await go('/down/late-edit');
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-late'], undefined);
  });

  test('onEnd that throws a Symbol or never settles: the answer goes, a line names onEnd', async () => {
    for (const path of ['/end/throw', '/end/never']) {
      const res = await go(path);
      assert.equal(res.status, 200);
      const id = String(res.headers['x-request-id']);
      await waitUntil(`${path}: a stage failed line for onEnd`, () =>
        gw.logs.some((l) => l.msg === 'stage failed' && l.req_id === id && l.hook === 'onEnd'),
      );
    }
  });

  test('onEnd that blocks the event loop past its time (sync, or before the promise it returns): an overrun, told and counted', async () => {
    for (const path of ['/end/block', '/end/block/async']) {
      const res = await go(path);
      assert.equal(res.status, 200);
      const id = String(res.headers['x-request-id']);
      await waitUntil(`${path}: a stage failed line for onEnd`, () =>
        gw.logs.some((l) => l.msg === 'stage failed' && l.req_id === id && l.hook === 'onEnd'),
      );
      const told = gw.logs.find((l) => l.msg === 'stage failed' && l.req_id === id && l.hook === 'onEnd');
      assert.equal(told?.details, 'plugin:hostile overran its 300 ms in onEnd');
    }
  });

  test('/metrics counts the throws and overruns under plugin:hostile', async () => {
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const threw = sampleValue(all, 'candor_stage_hook_calls_total', {
      stage: 'plugin:hostile',
      hook: 'onRequest',
      result: 'threw',
    });
    const overran = sampleValue(all, 'candor_stage_hook_calls_total', {
      stage: 'plugin:hostile',
      hook: 'onRequest',
      result: 'overran',
    });
    assert.ok((threw ?? 0) >= 20, `threw ${threw}`);
    assert.ok((overran ?? 0) >= 3, `overran ${overran}`);
  });
});

/** Connection-specific fields, which an HTTP/2 message must not carry (RFC 9113 §8.2.2). */
const HOP_BY_HOP = {
  connection: 'close',
  'keep-alive': 'timeout=5',
  upgrade: 'h2c',
  te: 'gzip',
  'transfer-encoding': 'chunked',
  'proxy-connection': 'keep-alive',
  'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
};

const hopByHop: Plugin = () => ({
  onRequest(r) {
    if (r.path === '/answer') return new Response('mine', { headers: HOP_BY_HOP });
    if (r.path === '/answer-426')
      return new Response('mine', { status: 426, headers: { upgrade: 'websocket' } });
    if (r.path === '/request')
      for (const [name, value] of Object.entries(HOP_BY_HOP)) r.headers.set(name, value);
  },
  onResponse(res, r) {
    if (r.path === '/response')
      for (const [name, value] of Object.entries(HOP_BY_HOP)) res.headers.set(name, value);
  },
});

describe('a plugin that writes connection-specific fields, to an HTTP/2 client', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('hop', hopByHop, 'http2: true'));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const [path, status] of [
    ['/answer', 200],
    ['/answer-426', 426],
    ['/request', 200],
    ['/response', 200],
  ] as const)
    test(`${path}: none of them on the stream (node:http2 would refuse the head), none upstream`, async () => {
      const res = await h2Get(gw.url, path, {});
      assert.equal(res.status, status);
      for (const name of Object.keys(HOP_BY_HOP)) assert.equal(res.headers[name], undefined, name);
      const got = app.received.find((r) => r.path === path);
      if (got !== undefined)
        for (const name of Object.keys(HOP_BY_HOP).filter((n) => n !== 'connection'))
          assert.equal(got.headers[name], undefined, `${name} upstream`);
    });
});
