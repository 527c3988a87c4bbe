/**
 * A worker that dies is counted in candor_worker_exits_total, by the primary, by how it ended:
 * a crash loop or an OOM killer at work shows in the metrics an alert reads, not in the log alone.
 * On a real `candor serve --workers 2`, with a real SIGKILL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { adminCall, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const TOKEN = 'worker-exits-token-abcdefgh';

/** The sample lines of candor_worker_exits_total in the admin API's /metrics. */
async function exitSamples(adminPort: number): Promise<{ text: string; samples: string[] }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  return { text, samples: text.split('\n').filter((l) => l.startsWith('candor_worker_exits_total')) };
}

/** An echo upstream, and a config in a folder of its own proxying to it, with the admin API on TOKEN. */
async function echoConfig(): Promise<{ echo: Awaited<ReturnType<typeof startEcho>>; path: string }> {
  const echo = await startEcho();
  const dir = tempDir('candor-exits-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }\n` +
      `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`,
  );
  return { echo, path };
}

test('a worker killed with SIGKILL is counted in candor_worker_exits_total{exit="SIGKILL"}; none before', async () => {
  const { echo, path } = await echoConfig();
  const candor = await startServe(path, 2, { admin: true });
  try {
    const adminPort = candor.adminPort as number;
    const before = await exitSamples(adminPort);
    assert.match(before.text, /^# TYPE candor_worker_exits_total counter$/m);
    assert.deepEqual(before.samples, []);

    const status = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
    const [first] = status.body.workers as { pid: number }[];
    process.kill(first.pid, 'SIGKILL');
    // Its replacement listens: the gateway has two workers again.
    await candor.waitForLines('listening', 3, 15_000);

    const after = await exitSamples(adminPort);
    assert.deepEqual(after.samples, ['candor_worker_exits_total{exit="SIGKILL"} 1']);
  } finally {
    assert.equal(await candor.stop(), 0, candor.stderr());
    await echo.close();
  }
});

test('a crash loop: GET /status lists the replacement waiting out its backoff (whose worker, how it ended, when it starts), and none once it runs', async () => {
  const { echo, path } = await echoConfig();
  const candor = await startServe(path, 1, { admin: true });
  const status = async () =>
    (await adminCall(candor.adminPort as number, 'GET', '/status', { token: TOKEN })).body;
  try {
    assert.deepEqual((await status()).workers_restarting, []);
    // Each worker killed soon after it started: the backoff doubles from the second (0, 100,
    // 200, 400, 800 ms, then 1.6 s: long enough to be read while it waits).
    let killed = 0;
    for (let kills = 1; kills <= 6; kills++) {
      const [worker] = (await status()).workers as { pid: number }[];
      killed = worker.pid;
      process.kill(killed, 'SIGKILL');
      await candor.waitForLines('worker exited: starting another', kills, 15_000);
      if (kills < 6) await candor.waitForLines('listening', kills + 1, 20_000);
    }
    const exited = candor.lines.filter((l) => l.msg === 'worker exited: starting another').at(-1);
    assert.equal(exited?.restart_in_ms, 1600);
    const waiting = (await status()).workers_restarting as Record<string, unknown>[];
    assert.equal(waiting.length, 1, JSON.stringify(waiting));
    const [replacement] = waiting;
    assert.deepEqual(replacement.replaces, { pid: killed, exit: 'SIGKILL' });
    assert.equal(replacement.short_lived_in_a_row, 6);
    // Due the backoff after the exit its line told: both stamped by the primary in the same turn,
    // but around the writes of its lines to pipes, which a loaded machine's reader may leave full
    // (26 ms once): well within a backoff step either way (800 ms before it, 3.2 s after).
    const due = Date.parse(String(replacement.starts_at)) - Date.parse(String(exited?.time));
    assert.ok(
      due >= 1400 && due <= 1800,
      `starts_at ${replacement.starts_at}, the exit told at ${exited?.time}`,
    );
    await candor.waitForLines('listening', 7, 20_000);
    assert.deepEqual((await status()).workers_restarting, []);
  } finally {
    assert.equal(await candor.stop(), 0, candor.stderr());
    await echo.close();
  }
});
