/**
 * A plugin cannot end its worker by any of the calls Node gives to end a process, through
 * `candor serve`: `process.abort()`, `process.reallyExit()`, `process.kill()` of the worker's own
 * pid (any signal; the primary's, which would end the gateway), `process.disconnect()` and the
 * cluster worker's `kill()` (a worker cut from its primary ends) are its bug, as `process.exit`
 * is (plugins-serve.test.ts, plugins-stray.test.ts): a 500 naming the plugin and its hook, or,
 * from a timer it set, its stray error logged naming it; a request in flight on another route is
 * answered and the same worker serves on. Signal 0 (is the process there?) goes through. And a
 * sloppy CommonJS plugin's assignment of what it reads only, made from a timer, throws from a
 * setter whose frame is not the gateway's: the plugin's stray error, not the worker's own bug.
 * (`process.kill(0)` and `process.kill(-1)`, the gateway's group and every process the user may
 * signal, are refused by the same rule but never tried here: a guard broken by a later change
 * would signal the test runner and its neighbours.)
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** Each path one way to end the process it runs in. */
const ENDER = `import cluster from 'node:cluster';
export default () => ({
  onRequest(request) {
    const path = request.path;
    if (path === '/end/abort') process.abort();
    if (path === '/end/really-exit') process.reallyExit(7);
    if (path === '/end/kill-self') process.kill(process.pid, 'SIGKILL');
    if (path === '/end/kill-default') process.kill(process.pid);
    if (path === '/end/kill-number') process.kill(String(process.pid), 9);
    if (path === '/end/kill-primary') process.kill(process.ppid, 'SIGTERM');
    if (path === '/end/disconnect') process.disconnect();
    if (path === '/end/worker-kill') cluster.worker.kill();
    if (path === '/end/timer-abort') setTimeout(() => process.abort(), 0);
    if (path === '/end/pids') return { status: 200, body: JSON.stringify([process.pid, process.ppid]) };
    if (path === '/end/probe') return { status: 200, body: String(process.kill(process.pid, 0)) };
  },
});
`;

/** A CommonJS plugin (sloppy code) that assigns what it reads only, from a timer it set: plugins-frozen.test.ts's, late. */
const LAX = `module.exports = () => ({
  onResponse(response) {
    setTimeout(() => { response.status = 503; }, 0);
  },
});
`;

const STRAY = "a plugin's error nothing caught (a timer it set, a promise it left): the worker goes on";

describe('a plugin that tries to end its worker, through candor serve', () => {
  let dir: string;
  let app: Fault;
  /** Holds each request until answered by the test: the one in flight while the plugin misbehaves. */
  let held: http.Server;
  const holding: http.ServerResponse[] = [];
  let serve: ServeProcess;

  before(async () => {
    dir = tempDir('candor-plugins-guard-');
    app = await startEcho();
    held = http.createServer((_req, res) => holding.push(res));
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    await writeFile(join(dir, 'ender.mjs'), ENDER);
    await writeFile(join(dir, 'lax.cjs'), LAX);
    await writeFile(
      join(dir, 'candor.yaml'),
      `listen:
  - address: 127.0.0.1:0
plugins:
  ender: { module: ./ender.mjs }
  lax: { module: ./lax.cjs }
routes:
  - { name: held, match: { path: /held }, upstream: held }
  - { name: end, match: { path: /end }, upstream: app, plugins: [ender] }
  - { name: lax, match: { path: /lax }, upstream: app, plugins: [lax] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  held: { targets: [{ url: http://127.0.0.1:${(held.address() as { port: number }).port} }] }
`,
    );
    serve = await startServe(join(dir, 'candor.yaml'), 1);
  });
  after(async () => {
    for (const res of holding) res.destroy();
    held?.closeAllConnections();
    await closeAll(serve, app, held);
    await rm(dir, { recursive: true, force: true });
  });

  const url = () => `http://127.0.0.1:${serve.port}`;
  const linesOf = (msg: string) => serve.lines.filter((l) => l.msg === msg);
  const noWorkerEnded = () => {
    assert.deepEqual(
      serve.lines.filter((l) => /worker (crashed|exited)/.test(String(l.msg))),
      [],
      'no worker ended',
    );
    assert.equal(linesOf('listening').length, 1, 'the same worker served throughout');
  };

  for (const [path, call] of [
    ['/end/abort', 'process.abort()'],
    ['/end/really-exit', 'process.reallyExit(7)'],
    ['/end/kill-self', 'process.kill(PID, SIGKILL)'],
    ['/end/kill-default', 'process.kill(PID, SIGTERM)'],
    ['/end/kill-number', 'process.kill(PID, 9)'],
    ['/end/kill-primary', 'process.kill(PPID, SIGTERM)'],
    ['/end/disconnect', 'process.disconnect()'],
    ['/end/worker-kill', 'cluster.worker.kill()'],
  ])
    test(`${call} in a hook is its bug, a 500 naming it: the request in flight answered, the worker serves on`, async (t) => {
      const bystander = request(url(), { path: '/held' });
      t.after(() => {
        for (const res of holding.splice(0)) res.end('held answer');
      });
      await waitUntil('the bystander held upstream', () => holding.length === 1);
      const res = await request(url(), { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'candor; error=proxy_internal_error; details="plugin:ender threw in onRequest"; next-hop="app"',
      );
      const line = await waitForStage(String(res.headers['x-request-id']));
      const cut = path === '/end/disconnect' || path === '/end/worker-kill';
      const [pid, ppid] = JSON.parse((await request(url(), { path: '/end/pids' })).text);
      assert.equal(
        (line.err as { message?: string }).message,
        `called ${call.replace('PPID', String(ppid)).replace('PID', String(pid))}: ${cut ? 'a plugin may not cut the worker from its primary' : "a plugin may not end the gateway's process"}`,
      );
      for (const held of holding.splice(0)) held.end('held answer');
      assert.equal((await bystander).text, 'held answer');
      assert.equal((await request(url(), { path: '/end/none' })).status, 200);
      noWorkerEnded();
    });

  test("process.abort() from a plugin's timer is its stray error, logged naming it: the worker serves on", async () => {
    const before = linesOf(STRAY).length;
    assert.equal((await request(url(), { path: '/end/timer-abort' })).status, 200);
    await serve.waitForLines(STRAY, before + 1);
    const [told] = linesOf(STRAY).slice(before);
    assert.deepEqual(
      [told.level, told.plugin, told.module, told.origin, told.err],
      [
        'error',
        'ender',
        join(dir, 'ender.mjs'),
        'uncaughtException',
        "called process.abort(): a plugin may not end the gateway's process",
      ],
    );
    assert.equal((await request(url(), { path: '/end/none' })).status, 200);
    noWorkerEnded();
  });

  test("a sloppy plugin's assignment of response.status from a timer is its stray error, logged naming it (the setter's frame is none of the gateway's): the worker serves on", async () => {
    const before = linesOf(STRAY).length;
    assert.equal((await request(url(), { path: '/lax' })).status, 200);
    await serve.waitForLines(STRAY, before + 1);
    const [told] = linesOf(STRAY).slice(before);
    assert.deepEqual(
      [told.level, told.plugin, told.module, told.origin, told.err],
      [
        'error',
        'lax',
        join(dir, 'lax.cjs'),
        'uncaughtException',
        'assigned response.status, which a plugin reads only',
      ],
    );
    assert.equal((await request(url(), { path: '/lax' })).status, 200);
    noWorkerEnded();
  });

  test('signal 0 to its own process (is it there?) goes through', async () => {
    const res = await request(url(), { path: '/end/probe' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'true');
  });

  /** The `stage failed` line of a request, by its id. */
  async function waitForStage(id: string): Promise<Record<string, unknown>> {
    let line: Record<string, unknown> | undefined;
    await waitUntil('its stage failed line', () => {
      line = serve.lines.find((l) => l.msg === 'stage failed' && l.req_id === id);
      return line !== undefined;
    });
    return line as Record<string, unknown>;
  }
});
