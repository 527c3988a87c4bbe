/**
 * A reload no worker confirmed in time (a worker stalled: CPU-starved, stopped): the snapshot
 * was sent, and a worker that runs again applies it, so the primary's view (GET /config,
 * /status, the config a restarted worker gets) must be that snapshot, not the one before.
 * The answer is still the 503 "incomplete", naming the workers that did not confirm, and why.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { adminCall, childPids, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'unconfirmed-reload-token-0123456789';

test('a reload no worker confirmed in time: the answer is 503 incomplete, and the admin API then tells the config the worker runs once it wakes', async (t) => {
  const echo = await startEcho();
  const dir = tempDir('candor-unconfirmed-');
  t.after(async () => {
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const adminPort = await freePort();
  const config = (extraRoute: string) =>
    `name: unconfirmed\nlisten:\n  - address: 127.0.0.1:0\n` +
    `admin: { listen: "127.0.0.1:${adminPort}", token_file: ${join(dir, 'token')} }\n` +
    `routes:\n${extraRoute}  - match: { path: / }\n    upstream: app\n` +
    `upstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`;
  const path = join(dir, 'candor.yaml');
  writeFileSync(path, config(''));
  const serve = await startServe(path, 1, { admin: true });
  const workerPid = Number(
    readFileSync(`/proc/${serve.child.pid}/task/${serve.child.pid}/children`, 'utf8').trim().split(/\s+/)[0],
  );
  t.after(async () => {
    try {
      process.kill(workerPid, 'SIGCONT');
    } catch {
      // gone already
    }
    await serve.stop();
  });

  writeFileSync(path, config('  - name: added\n    match: { path: /added }\n    upstream: app\n'));
  process.kill(workerPid, 'SIGSTOP');
  const reload = await adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
  process.kill(workerPid, 'SIGCONT');
  assert.equal(reload.status, 503);
  const report = reload.body.reload as {
    result: string;
    workers: { confirmed: number[]; failed: unknown[] };
  };
  assert.equal(report.result, 'incomplete');
  assert.deepEqual(report.workers.confirmed, []);
  assert.equal(report.workers.failed.length, 1);

  // The worker, running again, swaps to the snapshot it was sent.
  await serve.waitForLines('config swapped', 1, 10_000);
  const res = await fetch(`http://127.0.0.1:${serve.port}/added`);
  await res.text();
  assert.equal(res.status, 200);
  assert.ok(
    echo.received.some((r) => r.path === '/added'),
    'the new route served',
  );

  const running = await adminCall(serve.adminPort as number, 'GET', '/config', { token: TOKEN });
  const routes = (running.body.config as { routes: { name?: string }[] }).routes;
  assert.ok(
    routes.some((r) => r.name === 'added'),
    `GET /config shows the config the worker runs: ${JSON.stringify(routes)}`,
  );
});

/** `serve --workers 2` on an echo, with the admin API; a reload then adds the route /added. */
async function twoWorkers(t: TestContext, port: number) {
  const echo = await startEcho();
  const dir = tempDir('candor-died-reload-');
  t.after(async () => {
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const config = (extraRoute: string) =>
    `listen:\n  - address: 127.0.0.1:${port}\n` +
    `admin: { listen: "127.0.0.1:0", token_file: ${join(dir, 'token')} }\n` +
    `routes:\n${extraRoute}  - match: { path: / }\n    upstream: app\n` +
    `upstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`;
  const path = join(dir, 'candor.yaml');
  writeFileSync(path, config(''));
  const serve = await startServe(path, 2, { admin: true });
  t.after(() => serve.stop());
  writeFileSync(path, config('  - name: added\n    match: { path: /added }\n    upstream: app\n'));
  return serve;
}

test('a worker that dies before it confirms a reload is named by its exit, not as one that did not answer in time; its replacement runs the new config', async (t) => {
  // A fixed port: the replacement must listen where the others do.
  const port = await freePort();
  const serve = await twoWorkers(t, port);
  const [doomed] = childPids(serve.child.pid);
  process.kill(doomed, 'SIGSTOP');
  const reload = adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
  // The other worker swapped; the stopped one has the snapshot in its channel, unread, and dies.
  await serve.waitForLines('config swapped', 1, 10_000);
  process.kill(doomed, 'SIGKILL');
  const answer = await reload;
  assert.equal(answer.status, 503, answer.text);
  const report = answer.body.reload as { workers: { confirmed: number[]; failed: { reason: string }[] } };
  assert.equal(report.workers.confirmed.length, 1);
  assert.deepEqual(
    report.workers.failed.map((f) => f.reason),
    ['exited (SIGKILL) before it answered; its replacement starts on this config'],
  );

  await serve.waitForLines('listening', 3, 10_000);
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/added`, { headers: { connection: 'close' } });
    await res.text();
    assert.equal(res.status, 200, 'either worker, the replacement too, serves the new route');
  }
});

test('a worker that dies before it confirms a reload while the gateway drains is named by its exit, and no replacement is promised', async (t) => {
  const serve = await twoWorkers(t, await freePort());
  const [doomed] = childPids(serve.child.pid);
  process.kill(doomed, 'SIGSTOP');
  const reload = adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
  await serve.waitForLines('config swapped', 1, 10_000);
  serve.child.kill('SIGTERM');
  await serve.waitForLines('drained', 1);
  process.kill(doomed, 'SIGKILL');
  const answer = await reload;
  assert.equal(answer.status, 503, answer.text);
  const report = answer.body.reload as { workers: { failed: { reason: string }[] } };
  assert.deepEqual(
    report.workers.failed.map((f) => f.reason),
    ['exited (SIGKILL) before it answered'],
  );
});
