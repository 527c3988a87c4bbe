/**
 * A real app process on `candor/app` and real signals: SIGTERM drains it and it exits 0 with
 * no connection cut (the request in flight finished with `Connection: close`), before its
 * deadline; a request that never ends is cut at the deadline; a second SIGINT cuts at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startAppProcess } from './app-process.ts';
import { rawConnection } from './raw-connection.ts';

/** The kit's events and the fixture's cleanup line (its own "listening" line races the first "ready"). */
const events = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg !== 'listening');
const msgs = (lines: Record<string, unknown>[]) => events(lines).map((l) => l.msg);

test('SIGTERM: not ready, stop accepting, the request in flight finishes with Connection: close, cleanup, exit 0', async () => {
  const app = await startAppProcess({ APP_NAME: 'a', APP_DELAY: '200', APP_TIMEOUT: '20000' });
  try {
    await app.waitFor('ready');
    const busy = await rawConnection(app.port);
    busy.send('/slow');
    app.child.kill('SIGTERM');
    const [slow] = await busy.responses(1);
    assert.match(slow, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(slow, /\r\nConnection: close\r\n/);
    assert.match(slow, /\r\n\r\na \/slow\n$/);
    assert.equal(await app.exited, 0);
    assert.deepEqual(msgs(app.lines), [
      'ready',
      'draining: not ready',
      'draining: stopped accepting',
      'cleanup ran',
      'stopped',
    ]);
    assert.equal(events(app.lines)[1].reason, 'SIGTERM');
    // Over before its deadline: nothing was cut.
    assert.equal(events(app.lines)[4].forced, 0);
  } finally {
    await app.kill();
  }
});

test('SIGTERM with a request that never ends: cut at the deadline, then cleanup and exit 0', async () => {
  const app = await startAppProcess({ APP_NAME: 'b', APP_DELAY: '0', APP_TIMEOUT: '500' });
  try {
    await app.waitFor('ready');
    const hung = await rawConnection(app.port);
    hung.send('/hang');
    // Accepted and parsed by the app before the signal (a connection still in the kernel's queue
    // when the app stops accepting is reset, never seen: the reason for the delay).
    await new Promise((resolve) => setTimeout(resolve, 200));
    app.child.kill('SIGTERM');
    await hung.closed;
    assert.equal(hung.text(), '');
    assert.equal(await app.exited, 0);
    assert.deepEqual(msgs(app.lines), [
      'ready',
      'draining: not ready',
      'draining: stopped accepting',
      'draining: deadline, connections cut',
      'cleanup ran',
      'stopped',
    ]);
    assert.equal(events(app.lines)[3].connections, 1);
    assert.equal(events(app.lines)[5].forced, 1);
  } finally {
    await app.kill();
  }
});

test('a second SIGINT during the delay cuts at once', async () => {
  const app = await startAppProcess({ APP_NAME: 'c', APP_DELAY: '30000', APP_TIMEOUT: '60000' });
  try {
    await app.waitFor('ready');
    const busy = await rawConnection(app.port);
    busy.send('/hang');
    app.child.kill('SIGINT');
    await app.waitFor('draining: not ready');
    app.child.kill('SIGINT');
    await busy.closed;
    assert.equal(await app.exited, 0);
    assert.deepEqual(msgs(app.lines).slice(1), [
      'draining: not ready',
      'draining: stopped accepting',
      'draining: second signal, connections cut',
      'cleanup ran',
      'stopped',
    ]);
  } finally {
    await app.kill();
  }
});

test('two servers on the kit in one process (the app and its metrics port): SIGTERM exits once both are over, not when the idle one is', async () => {
  const app = await startAppProcess({
    APP_NAME: 'e',
    APP_DELAY: '100',
    APP_TIMEOUT: '20000',
    APP_SECOND: '1',
  });
  try {
    await app.waitFor('ready');
    await app.waitFor('second: ready');
    const busy = await rawConnection(app.port);
    busy.send('/slow');
    app.child.kill('SIGTERM');
    // The second server has nothing in flight and is over first; the process waits for the app's.
    const [slow] = await busy.responses(1);
    assert.match(slow, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(slow, /\r\n\r\ne \/slow\n$/);
    assert.equal(await app.exited, 0);
    const done = events(app.lines).filter((l) => /(stopped|cleanup ran)$/.test(String(l.msg)));
    assert.deepEqual(done.map((l) => l.msg).sort(), [
      'cleanup ran',
      'second: cleanup ran',
      'second: stopped',
      'stopped',
    ]);
  } finally {
    await app.kill();
  }
});
