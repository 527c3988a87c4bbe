/**
 * SIGUSR1 reopens the log file (logrotate's `postrotate`), relayed by the primary to its
 * workers, and never opens Node's inspector: on a real process tree, with real signals.
 * (A Node process with no SIGUSR1 listener and no --disable-sigusr1 opens 9229 on this signal.)
 */
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { connectRefused, startCandor } from './candor-process.ts';

/** Where Node's inspector listens when SIGUSR1 activates it. */
const INSPECTOR_PORT = 9229;

test('SIGUSR1 to the primary reopens the log file after a mv rotation (relayed to the worker); to a worker it does nothing; no inspector opens', async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const candor = await startCandor(
    `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:${port}\n`,
  );
  try {
    assert.equal(await connectRefused(INSPECTOR_PORT), true, 'precondition: nothing listens on 9229');
    const [worker] = candor.workers();
    assert.ok(worker, 'one worker');
    const base = `http://127.0.0.1:${candor.port}`;
    assert.equal((await request(base, { headers: { 'x-request-id': 'before-rotation' } })).status, 200);
    await candor.waitForLine((l) => l.client_req_id === 'before-rotation', 'the first request');

    // logrotate's default: mv, then `kill -USR1` in postrotate.
    const rotated = `${candor.logPath}.1`;
    renameSync(candor.logPath, rotated);
    candor.primary.kill('SIGUSR1');
    await candor.waitForLine((l) => l.msg === 'reopened the log file', 'the reopen, relayed by the primary');
    assert.equal((await request(base, { headers: { 'x-request-id': 'after-rotation' } })).status, 200);
    await candor.waitForLine((l) => l.client_req_id === 'after-rotation', 'a request after the rotation');
    assert.ok(
      candor.lines(rotated).some((l) => l.client_req_id === 'before-rotation'),
      'the old lines stay in the rotated file',
    );
    assert.equal(candor.lines(rotated).filter((l) => l.client_req_id === 'after-rotation').length, 0);
    // The primary's own lines follow the rotation too: its reload line is in the new file.
    candor.primary.kill('SIGHUP');
    await candor.waitForLine((l) => l.msg === 'config reloaded', "the primary's line after the rotation");
    assert.equal(candor.lines(rotated).filter((l) => l.msg === 'config reloaded').length, 0);
    assert.equal(
      candor.lines().filter((l) => l.msg === 'reopened the log file').length,
      2,
      'the primary and the worker each reopened theirs',
    );
    assert.equal(await connectRefused(INSPECTOR_PORT), true, 'SIGUSR1 to the primary opened no inspector');

    // Straight to a worker: it runs with --disable-sigusr1, so the signal does nothing at all.
    process.kill(worker, 'SIGUSR1');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await connectRefused(INSPECTOR_PORT), true, 'SIGUSR1 to the worker opened no inspector');
    assert.equal((await request(base, { headers: { 'x-request-id': 'after-second' } })).status, 200);
    await candor.waitForLine(
      (l) => l.client_req_id === 'after-second',
      'a request after the signal to the worker',
    );
    assert.deepEqual(candor.workers(), [worker], 'the same worker, never restarted');
    assert.equal(candor.primary.exitCode, null, 'the primary lives on');

    candor.primary.kill('SIGTERM');
    assert.equal((await candor.exited).code, 0, candor.stderr());
  } finally {
    await candor.cleanup();
    await new Promise<void>((resolve) => {
      upstream.closeAllConnections();
      upstream.close(() => resolve());
    });
  }
});

test('SIGQUIT (nginx’s graceful quit) drains as SIGTERM does, and SIGUSR2 (a reload to HAProxy, an upgrade to nginx) is refused with a line: neither kills the gateway on the spot', async () => {
  const upstream = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 600));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const candor = await startCandor(
    `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:${port}\n`,
  );
  try {
    const base = `http://127.0.0.1:${candor.port}`;
    candor.primary.kill('SIGUSR2');
    for (const pid of candor.workers()) process.kill(pid, 'SIGUSR2');
    const stillServed = await request(base, { headers: { 'x-request-id': 'after-usr2' } });
    assert.equal(stillServed.status, 200, 'SIGUSR2 left the gateway serving');
    assert.match(candor.stderr(), /SIGUSR2 does nothing here/);

    const inFlight = request(base, { headers: { 'x-request-id': 'in-flight' } });
    await new Promise((r) => setTimeout(r, 200));
    candor.primary.kill('SIGQUIT');
    assert.equal((await inFlight).status, 200, 'the request in flight finished');
    const exit = await candor.exited;
    assert.deepEqual([exit.code, exit.signal], [0, null], candor.stderr());
    assert.ok(candor.lines().some((l) => l.msg === 'drained'));
    assert.equal(candor.lines().find((l) => l.client_req_id === 'in-flight')?.status, 200);
  } finally {
    await candor.cleanup();
    upstream.close();
  }
});
