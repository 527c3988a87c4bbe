/**
 * The worker never dies of a plugin (issue 57), through `candor serve`: a plugin that leaves a
 * rejection nothing handles, throws from a timer it set (or calls process.exit there), or forgets a `context.fetch` to a service
 * that is down (no await, no catch) is logged naming it, and the worker goes on: a request in
 * flight on another route meanwhile gets its answer and its log line, and the same worker serves
 * the next one. (A worker's own bug still ends it: worker-restart.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { named, sampleValue, scrapeUntil } from '../../observe/metrics/scrape.ts';

/** A plugin that starts things and forgets them, by the path it is called on. */
const SLOPPY = `import { readFile } from 'node:fs';
import { readFile as read } from 'node:fs/promises';
import { laterReject, laterThrow } from './helper.mjs';
export default (options, context) => ({
  onRequest(request) {
    // Errors Node's own code made, with no frame of the plugin's: traced by the work they came of.
    if (request.path === '/left/fs-callback') readFile('/nonexistent/candor', (err) => { if (err) throw err; });
    if (request.path === '/left/fs-promise') read('/nonexistent/candor-promise');
    if (request.path === '/left/reject') Promise.reject(new Error('left unhandled'));
    if (request.path === '/left/timer') setTimeout(() => { throw new Error('thrown from a timer'); }, 0);
    // The plugin's own helper file beside it (imported by a relative path): its code too.
    if (request.path === '/left/helper-reject') laterReject();
    if (request.path === '/left/helper-timer') laterThrow();
    if (request.path === '/left/fetch') context.fetch('down', '/audit', { request });
    // Values that are no Error, which String() cannot make text of.
    if (request.path === '/left/bare-timer') setTimeout(() => { throw Object.create(null); }, 0);
    if (request.path === '/left/odd-reject') Promise.reject({ toString() { throw new Error('no text'); } });
    if (request.path === '/left/chain') context.fetch('down', '/audit').then((answer) => answer.text());
    // process.exit from a timer it set, while its own request still waits on it.
    if (request.path === '/left/exit-timer') {
      setTimeout(() => process.exit(3), 0);
      return new Promise((ok) => setTimeout(ok, 50));
    }
    if (request.path === '/left/exit-job') Promise.resolve().then(() => process.exit(4));
  },
});
`;

/** A file of the plugin's own, beside its module. */
const HELPER = `export function laterReject() { Promise.reject(new Error('a helper left it')); }
export function laterThrow() { setTimeout(() => { throw new Error('a helper timer threw'); }, 0); }
`;

/**
 * A plugin that is a package of its own in node_modules, as `tsc` builds one: its entry file
 * re-exports the code of another file of the package, where its errors are made.
 */
const PACKAGE = {
  'package.json': '{ "name": "sloppy-pkg", "type": "module", "exports": "./dist/index.js" }',
  'dist/index.js': "export { default } from './plugin.js';\n",
  'dist/plugin.js': `export default () => ({
  onRequest(request) {
    if (request.path === '/pkg/reject') Promise.reject(new Error('the package left it'));
    if (request.path === '/pkg/timer') setTimeout(() => { throw new Error('the package timer threw'); }, 0);
  },
});
`,
};

const STRAY = "a plugin's error nothing caught (a timer it set, a promise it left): the worker goes on";
const FORGOTTEN = "a plugin's fetch failed and the plugin never took its failure (no await, no catch)";

describe('a plugin that leaves an error nothing catches, through candor serve', () => {
  let dir: string;
  let app: Fault;
  let down: Fault;
  /** Holds each request until `release()`: the one in flight while the plugins misbehave. */
  let held: http.Server;
  const holding: http.ServerResponse[] = [];
  let serve: ServeProcess;
  let metricsPort: number;

  before(async () => {
    metricsPort = await freePort();
    dir = tempDir('candor-plugins-stray-');
    app = await startEcho();
    down = await startRefusing();
    held = http.createServer((_req, res) => holding.push(res));
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    await writeFile(join(dir, 'sloppy.mjs'), SLOPPY);
    await writeFile(join(dir, 'helper.mjs'), HELPER);
    await mkdir(join(dir, 'node_modules/sloppy-pkg/dist'), { recursive: true });
    for (const [file, text] of Object.entries(PACKAGE))
      await writeFile(join(dir, 'node_modules/sloppy-pkg', file), text);
    await writeFile(
      join(dir, 'candor.yaml'),
      `listen:
  - address: 127.0.0.1:0
metrics: { listen: "127.0.0.1:${metricsPort}" }
plugins:
  sloppy: { module: ./sloppy.mjs }
  # The same module under a second name: a stray error is named by the plugin whose hook set it going.
  sloppy-too: { module: ./sloppy.mjs }
  pkg: { module: sloppy-pkg }
routes:
  - { name: too, match: { path: /too }, upstream: app, plugins: [sloppy-too] }
  - { name: held, match: { path: /held }, upstream: held }
  - { name: left, match: { path: /left }, upstream: app, plugins: [sloppy] }
  - { name: pkg, match: { path: /pkg }, upstream: app, plugins: [pkg] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  held: { targets: [{ url: http://127.0.0.1:${(held.address() as { port: number }).port} }] }
  down: { targets: [{ url: ${down.url} }] }
`,
    );
    serve = await startServe(join(dir, 'candor.yaml'), 1);
  });
  after(async () => {
    for (const res of holding) res.destroy();
    held?.closeAllConnections();
    await closeAll(serve, app, down, held);
    await rm(dir, { recursive: true, force: true });
  });

  const url = () => `http://127.0.0.1:${serve.port}`;
  const linesOf = (msg: string) => serve.lines.filter((l) => l.msg === msg);

  test('a request in flight on another route gets its answer and its log line; the plugin is named; the worker serves on', async () => {
    const bystander = request(url(), { path: '/held' });
    await waitUntil('the bystander held upstream', () => holding.length === 1);

    for (const path of [
      '/left/reject',
      '/left/timer',
      '/left/fetch',
      '/left/chain',
      '/left/fs-callback',
      '/left/fs-promise',
      '/left/helper-reject',
      '/left/helper-timer',
    ])
      assert.equal((await request(url(), { path })).status, 200, path);
    await serve.waitForLines(STRAY, 7);
    await serve.waitForLines(FORGOTTEN, 1);

    const stray = linesOf(STRAY);
    const [rejected, thrown] = ['left unhandled', 'thrown from a timer'].map((err) =>
      stray.find((l) => l.err === err),
    );
    const chained = stray.find((l) => l.handed !== undefined);
    const module = join(dir, 'sloppy.mjs');
    assert.deepEqual(
      [rejected, thrown].map((l) => [l?.level, l?.plugin, l?.module, l?.origin, l?.err]),
      [
        ['error', 'sloppy', module, 'unhandledRejection', 'left unhandled'],
        ['error', 'sloppy', module, 'uncaughtException', 'thrown from a timer'],
      ],
    );
    // Node's own errors, no frame of the plugin's in their stacks: named all the same, no module.
    const frameless = ['/nonexistent/candor', '/nonexistent/candor-promise'].map((file) =>
      stray.find((l) => String(l.err).endsWith(`'${file}'`)),
    );
    assert.deepEqual(
      frameless.map((l) => [l?.level, l?.plugin, l?.module, l?.origin]),
      [
        ['error', 'sloppy', undefined, 'uncaughtException'],
        ['error', 'sloppy', undefined, 'unhandledRejection'],
      ],
    );
    // Its helper file's: named, the helper the module.
    const helped = ['a helper left it', 'a helper timer threw'].map((err) =>
      stray.find((l) => l.err === err),
    );
    assert.deepEqual(
      helped.map((l) => [l?.level, l?.plugin, l?.module, l?.origin]),
      [
        ['error', 'sloppy', join(dir, 'helper.mjs'), 'unhandledRejection'],
        ['error', 'sloppy', join(dir, 'helper.mjs'), 'uncaughtException'],
      ],
    );
    // A failure the gateway handed it, left unhandled through a promise the plugin made of it.
    assert.deepEqual(
      [chained?.level, chained?.plugin, chained?.handed, chained?.origin],
      ['error', 'sloppy', 'fetch down', 'unhandledRejection'],
    );
    assert.match(String(chained?.err), /^connection_refused: /);
    // The fetch it never took: once, at warn, naming the plugin and the hop.
    const [forgotten] = linesOf(FORGOTTEN);
    const fetched = linesOf('request').find((l) => l.path === '/left/fetch');
    assert.deepEqual(
      [forgotten.level, forgotten.plugin, forgotten.hop, forgotten.req_id],
      ['warn', 'sloppy', 'down', fetched?.req_id],
    );
    assert.match(String(forgotten.err), /^connection_refused: /);

    for (const res of holding) res.end('held answer');
    const answered = await bystander;
    assert.equal(answered.status, 200);
    assert.equal(answered.text, 'held answer');
    await waitUntil('the bystander logged', () =>
      linesOf('request').some((l) => l.path === '/held' && l.status === 200),
    );
    assert.equal((await request(url(), { path: '/left/none' })).status, 200);
    assert.deepEqual(
      serve.lines.filter((l) => /worker (crashed|exited)/.test(String(l.msg))),
      [],
      'no worker ended',
    );
    assert.equal(linesOf('listening').length, 1, 'the same worker served throughout');
  });

  test('an error that is no Error, which String() cannot write (a null-prototype object, a throwing toString), is told and the worker serves on', async () => {
    const before = linesOf(STRAY).length;
    for (const path of ['/left/bare-timer', '/left/odd-reject'])
      assert.equal((await request(url(), { path })).status, 200, path);
    await serve.waitForLines(STRAY, before + 2);
    const told = linesOf(STRAY).slice(before);
    assert.deepEqual(told.map((l) => [l.level, l.plugin, l.origin]).sort(), [
      ['error', 'sloppy', 'uncaughtException'],
      ['error', 'sloppy', 'unhandledRejection'],
    ]);
    assert.equal((await request(url(), { path: '/left/none' })).status, 200);
    assert.deepEqual(
      serve.lines.filter((l) => /worker (crashed|exited)/.test(String(l.msg))),
      [],
      'no worker ended',
    );
    assert.equal(linesOf('listening').length, 1, 'the same worker served throughout');
  });

  test("process.exit called from a plugin's timer is its error, told as such: the worker serves on, the requests in flight answered", async () => {
    const before = linesOf(STRAY).length;
    holding.splice(0); // the first test's, answered
    const bystander = request(url(), { path: '/held' });
    await waitUntil('the bystander held upstream', () => holding.length === 1);
    // Its own request waits on the hook past the timer: answered, as the hook went on.
    assert.equal((await request(url(), { path: '/left/exit-timer' })).status, 200);
    // And from a promise job it left: a rejection nothing handled.
    assert.equal((await request(url(), { path: '/left/exit-job' })).status, 200);
    await serve.waitForLines(STRAY, before + 2);
    const told = linesOf(STRAY).slice(before);
    assert.deepEqual(
      told.map((l) => [l.level, l.plugin, l.module, l.origin, l.err]),
      [3, 4].map((code) => [
        'error',
        'sloppy',
        join(dir, 'sloppy.mjs'),
        code === 3 ? 'uncaughtException' : 'unhandledRejection',
        `called process.exit(${code}): a plugin may not end the gateway's process`,
      ]),
    );
    for (const res of holding.splice(0)) res.end('held answer');
    assert.equal((await bystander).text, 'held answer');
    assert.equal((await request(url(), { path: '/left/none' })).status, 200);
    assert.deepEqual(
      serve.lines.filter((l) => /worker (crashed|exited)/.test(String(l.msg))),
      [],
      'no worker ended',
    );
    assert.equal(linesOf('listening').length, 1, 'the same worker served throughout');
  });

  test('a plugin that is a package in node_modules: its errors in another file of its package are its own, told, and the worker serves on', async () => {
    const before = linesOf(STRAY).length;
    for (const path of ['/pkg/reject', '/pkg/timer'])
      assert.equal((await request(url(), { path })).status, 200, path);
    await serve.waitForLines(STRAY, before + 2);
    const file = join(dir, 'node_modules/sloppy-pkg/dist/plugin.js');
    assert.deepEqual(
      linesOf(STRAY)
        .slice(before)
        .map((l) => [l.level, l.plugin, l.module, l.origin, l.err]),
      [
        ['error', 'pkg', file, 'unhandledRejection', 'the package left it'],
        ['error', 'pkg', file, 'uncaughtException', 'the package timer threw'],
      ],
    );
    assert.equal((await request(url(), { path: '/pkg/none' })).status, 200);
    assert.deepEqual(
      serve.lines.filter((l) => /worker (crashed|exited)/.test(String(l.msg))),
      [],
      'no worker ended',
    );
    assert.equal(linesOf('listening').length, 1, 'the same worker served throughout');
  });

  test("/metrics counts each error nothing caught under the plugin that left it, as its hooks' failures are", async () => {
    const before = linesOf(STRAY).length;
    assert.equal((await request(url(), { path: '/left/timer' })).status, 200);
    await serve.waitForLines(STRAY, before + 1);
    const told = linesOf(STRAY).filter((l) => l.plugin === 'sloppy').length;
    const all = await scrapeUntil(
      metricsPort,
      (s) => sampleValue(s, 'candor_plugin_uncaught_errors_total', { plugin: 'sloppy' }) === told,
    );
    assert.equal(
      sampleValue(all, 'candor_plugin_uncaught_errors_total', { plugin: 'sloppy' }),
      told,
      named(all, 'candor_plugin_uncaught_errors_total'),
    );
  });
});
