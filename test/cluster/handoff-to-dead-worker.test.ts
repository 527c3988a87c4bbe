/**
 * Where the cluster primary accepts for the workers (a port-0 listener; macOS, Windows), it hands
 * each connection to a worker and closes its own copy once the worker says it took it. A worker
 * that dies between the two (a crash, the OOM killer) never says: Node's cluster kept the
 * connection open in the primary for good, and its client, whose request nobody would ever read,
 * waited for an answer without end. A worker that crashes mid-request leaves its clients a
 * closed connection, never a wait: the primary closes what it handed to a worker that died
 * before taking it. On a real `candor serve --workers 2`, one worker stopped (SIGSTOP: it takes
 * nothing) and then killed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { childPids, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('a connection handed to a worker that dies before taking it is closed, not held open by the primary', async () => {
  const echo = await startEcho();
  const path = join(tempDir('candor-handoff-'), 'candor.yaml');
  writeFileSync(
    path,
    `name: handoff\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`,
  );
  const serve = await startServe(path, 2);
  const base = `http://127.0.0.1:${serve.port}`;
  try {
    const [stopped] = childPids(serve.child.pid);
    process.kill(stopped, 'SIGSTOP');
    // The primary hands the first connection to each worker in turn: one goes to the stopped
    // worker and waits there; the others are answered by the one that runs.
    const outcomes = Array.from({ length: 4 }, (_, i) =>
      request(base, { path: `/c${i}`, timeoutMs: 20_000 }).then(
        (answer) => `${answer.status}`,
        (err: Error) => err.message,
      ),
    );
    await serve.waitForLines('request', 3, 20_000);
    process.kill(stopped, 'SIGKILL');
    const ends = await Promise.all(outcomes);
    assert.equal(ends.filter((end) => end === '200').length, 3, ends.join(' | '));
    const closed = ends.filter((end) => end !== '200');
    assert.equal(closed.length, 1);
    assert.match(closed[0], /^(socket hang up|read ECONNRESET)$/, 'a closed connection, not a wait');
    await serve.waitForLines('listening', 3, 30_000);
    assert.equal((await request(base, { path: '/after' })).status, 200);
  } finally {
    await closeAll(serve, echo);
  }
});
