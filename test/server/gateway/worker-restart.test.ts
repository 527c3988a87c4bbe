/**
 * A worker that dies is replaced; one that keeps dying soon after it started is replaced after a
 * doubling delay, so a crash loop cannot take every core; a drain during that delay forks
 * nothing more. On a real process tree, with real SIGKILLs.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { EXIT } from '../../../src/server/cluster/exit-codes.ts';
import { RESTART_BACKOFF, restartDelay } from '../../../src/server/cluster/workers.ts';
import { request } from '../../helpers/http-client.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { ended } from '../../helpers/process-state.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { startCandor, untilRefused } from './candor-process.ts';

/** The pids of a process's children: a `candor serve`'s workers. */
function childrenOf(pid: number | undefined): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

test('restartDelay: none for the first death, then doubling from 100 ms up to the cap', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(restartDelay), [0, 100, 200, 400, 800]);
  assert.equal(restartDelay(40), RESTART_BACKOFF.maxMs);
});

test('a crash loop is restarted with backoff, and SIGTERM during the backoff exits at once without forking', async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const candor = await startCandor(
    `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:${port}\n`,
    1,
    `127.0.0.1:${await freePort()}`,
  );
  try {
    const restarts = () => candor.stderr().match(/starting another.*\n/g) ?? [];
    for (let kill = 1; kill <= 4; kill++) {
      const [worker] = candor.workers();
      process.kill(worker, 'SIGKILL');
      await waitUntil(`restart ${kill} announced`, () => restarts().length === kill);
      await waitUntil(`worker ${kill} replaced`, () => {
        const now = candor.workers();
        return now.length === 1 && now[0] !== worker;
      });
    }
    assert.deepEqual(restarts(), [
      'starting another\n',
      'starting another in 0.1 s (2 short-lived workers in a row)\n',
      'starting another in 0.2 s (3 short-lived workers in a row)\n',
      'starting another in 0.4 s (4 short-lived workers in a row)\n',
    ]);
    // The last replacement serves. (With no worker left the primary closed the listening
    // socket until the new one listens: hence a fixed port, and a few tries.)
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = await request(`http://127.0.0.1:${candor.port}`).then(
        (r) => r.status,
        () => new Promise<number>((r) => setTimeout(() => r(0), 50)),
      );
    }
    assert.equal(status, 200);

    // The fifth death waits 0.8 s; a SIGTERM within it ends the primary with no new worker.
    process.kill(candor.workers()[0], 'SIGKILL');
    await waitUntil('restart 5 announced', () => restarts().length === 5);
    assert.match(restarts()[4], /in 0\.8 s/);
    candor.primary.kill('SIGTERM');
    assert.equal((await candor.exited).code, 0, candor.stderr());
    assert.deepEqual(candor.workers(), []);
  } finally {
    await candor.cleanup();
    await new Promise<void>((resolve) => {
      upstream.closeAllConnections();
      upstream.close(() => resolve());
    });
  }
});

test('a worker that crashes (an exception nothing caught, a rejection nothing handled) says so in the log, with the error, and is replaced', async () => {
  const dir = tempDir('candor-crash-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `listen:\n  - address: 127.0.0.1:${await freePort()}\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n`,
  );
  // The preload makes a worker throw from its SIGURG listener, as a bug would.
  const preload = join(import.meta.dirname, '../../helpers/crash-on-signal.mjs');
  const serve = await startServe(config, 1, { env: { NODE_OPTIONS: `--import ${preload}` } });
  try {
    const [worker] = childrenOf(serve.child.pid);
    process.kill(worker, 'SIGURG');
    const msg =
      'worker crashed: its connections were cut, the requests in flight on them without their log lines';
    await serve.waitForLines(msg, 1);
    const crashed = serve.lines.find((l) => l.msg === msg);
    assert.deepEqual(
      { level: crashed?.level, err: crashed?.err, origin: crashed?.origin },
      { level: 'fatal', err: 'a bug, thrown for the test', origin: 'uncaughtException' },
    );
    assert.match(String(crashed?.stack), /crash-on-signal\.mjs/);
    await serve.waitForLines('listening', 2);
    assert.match(serve.stderr(), new RegExp(`worker ${worker} exited \\(1\\); starting another`));
    // The primary says it in the log as well, where operators collect the lines.
    const replaced = serve.lines.find((l) => l.msg === 'worker exited: starting another');
    assert.deepEqual(
      { level: replaced?.level, pid: replaced?.pid, exit: replaced?.exit, in: replaced?.restart_in_ms },
      { level: 'warn', pid: worker, exit: 1, in: 0 },
    );
    // A rejection nothing handled that is no plugin's (worker-faults.ts) ends its worker alike,
    // the error on stderr as Node writes it.
    const [next] = childrenOf(serve.child.pid);
    process.kill(next, 'SIGWINCH');
    await serve.waitForLines(msg, 2);
    const rejected = serve.lines.filter((l) => l.msg === msg)[1];
    assert.deepEqual(
      { level: rejected.level, err: rejected.err, origin: rejected.origin },
      { level: 'fatal', err: 'a bug, rejected for the test', origin: 'unhandledRejection' },
    );
    await serve.waitForLines('listening', 3);
    assert.match(serve.stderr(), new RegExp(`worker ${next} exited \\(1\\); starting another`));
    assert.match(serve.stderr(), /Error: a bug, rejected for the test\n {4}at process\.<anonymous>/);
  } finally {
    await serve.stop();
  }
});

test('a worker that outlives the drain is killed, said in the log, and the primary exits non-zero', async () => {
  const dir = tempDir('candor-stuck-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `listen:\n  - address: 127.0.0.1:${await freePort()}\ndrain:\n  timeout: 1s\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n`,
  );
  // The preload makes a worker spin from its SIGURG listener, as a stuck loop would.
  const preload = join(import.meta.dirname, '../../helpers/hang-on-signal.mjs');
  const serve = await startServe(config, 2, { env: { NODE_OPTIONS: `--import ${preload}` } });
  try {
    const [stuck] = childrenOf(serve.child.pid);
    process.kill(stuck, 'SIGURG');
    const code = await serve.stop();
    assert.equal(code, EXIT.unclean, serve.stderr());
    assert.match(serve.stderr(), new RegExp(`worker ${stuck} outlived the drain; killing it`));
    const killed = serve.lines.filter((l) => String(l.msg).startsWith('worker outlived the drain'));
    assert.deepEqual(
      killed.map((l) => ({ level: l.level, pid: l.pid })),
      [{ level: 'error', pid: stuck }],
      'the stuck worker alone: the other drained and exited 0',
    );
  } finally {
    if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
  }
});

test('the primary killed: its worker drains (stops accepting, answers its request in flight and logs it) and exits, not cut on the spot', async () => {
  let release: () => void = () => {};
  const answered = new Promise<void>((resolve) => {
    release = resolve;
  });
  let received = 0;
  const upstream = http.createServer((_req, res) => {
    received++;
    void answered.then(() => res.end('finished'));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const candor = await startCandor(
    `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:${port}\n`,
  );
  const [worker] = candor.workers();
  try {
    const inFlight = request(`http://127.0.0.1:${candor.port}`, { path: '/slow' });
    await waitUntil('the request reached the upstream', () => received === 1);
    candor.primary.kill('SIGKILL');
    await candor.waitForLine((l) => l.msg.startsWith('the primary is gone'), 'the worker saying so');
    await untilRefused(candor.port, 5_000);
    release();
    const res = await inFlight;
    assert.deepEqual([res.status, res.text], [200, 'finished']);
    // Gone, or a zombie nobody reaped yet: either way it runs no more.
    await waitUntil('the worker exited', () => ended(worker));
    const line = candor.lines().find((l) => l.msg === 'request' && l.path === '/slow');
    assert.equal(line?.status, 200);
  } finally {
    if (!ended(worker)) process.kill(worker, 'SIGKILL');
    await candor.cleanup();
    upstream.closeAllConnections();
    upstream.close();
  }
});

test('a replacement that cannot start (its certificate file gone for a moment) is tried again with backoff; the other worker serves on, and the gateway does not stop', async () => {
  const echo = await startEcho();
  const dir = tempDir('candor-replacement-');
  const files = certificateFor(['localhost']);
  const cert = join(dir, 'cert.pem');
  copyFileSync(files.certPath, cert);
  copyFileSync(files.keyPath, join(dir, 'key.pem'));
  const config = join(dir, 'candor.yaml');
  const port = await freePort();
  writeFileSync(
    config,
    `listen:\n  - address: 127.0.0.1:${port}\n    tls: { cert: ${cert}, key: ${join(dir, 'key.pem')} }\n` +
      `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`,
  );
  const serve = await startServe(config, 2);
  const get = () =>
    new Promise<number | undefined>((resolve, reject) =>
      https
        .get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        })
        .on('error', reject),
    );
  try {
    const [doomed] = childrenOf(serve.child.pid);
    rmSync(cert);
    process.kill(doomed, 'SIGKILL');
    const failedStarts = () =>
      serve.lines.filter((l) => l.msg === 'worker exited: starting another' && l.exit === EXIT.unavailable);
    await waitUntil('two replacements failed to start', () => failedStarts().length >= 2);
    assert.equal(serve.child.exitCode, null, serve.stderr());
    assert.deepEqual(
      failedStarts()
        .map((l) => l.restart_in_ms)
        .slice(0, 2),
      [100, 200],
      'tried again with the backoff of a crash loop',
    );
    for (let i = 0; i < 4; i++) assert.equal(await get(), 200, 'the worker left serves every connection');

    copyFileSync(files.certPath, cert);
    await serve.waitForLines('listening', 3, 10_000);
    assert.equal(await serve.stop(), EXIT.ok);
  } finally {
    if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
    await echo.close();
  }
});
