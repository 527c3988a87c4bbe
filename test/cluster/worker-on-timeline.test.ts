/**
 * A worker that dies while the gateway runs is on the deploy timeline: its death cut every
 * request and tunnel it held, and "what happened at 03:12?" is answered by GET /events and by
 * the log line `candor explain` reads back, not by the primary's warn line alone. On a real
 * `candor serve --workers 2`, with real SIGKILLs; a clean SIGTERM drain records none; and the
 * real `candor explain` places a storm that follows a death after it, as it does after a reload.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Report } from '../../src/kits/explain/report.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startSwitchable } from '../../src/kits/fault-kit/switchable.ts';
import { readEvent } from '../../src/observe/events/read-event.ts';
import { request } from '../helpers/http-client.ts';
import { adminCall, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { runExplain } from '../kits/explain/explain-fixture.ts';

const TOKEN = 'worker-timeline-token-abcdefgh';

interface Listed {
  kind: string;
  id: number;
  at: string;
  summary: string;
  [field: string]: unknown;
}

/** A folder with the admin token and a config proxying `/` to `target` (one attempt: no retry hides a reset). */
function gatewayConfig(target: string): string {
  const dir = tempDir('candor-worker-timeline-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }\n` +
      `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${target}\n` +
      '    retries: { attempts: 1 }\n',
  );
  return path;
}

test('a worker killed with SIGKILL is one `worker` event on GET /events (its pid, its signal, its replacement), its log line read back as it; a second death soon after waits out its backoff; SIGTERM records none', {
  timeout: 90_000,
}, async () => {
  const echo = await startEcho();
  const path = gatewayConfig(echo.url);
  const candor = await startServe(path, 2, { admin: true });
  const admin = async (url: string) => {
    const { status, body } = await adminCall(candor.adminPort as number, 'GET', url, { token: TOKEN });
    assert.equal(status, 200, JSON.stringify(body));
    return body as Record<string, unknown>;
  };
  const pids = async () => ((await admin('/status')).workers as { pid: number }[]).map((w) => w.pid);
  const events = async () => (await admin('/events')).events as Listed[];
  let stopped = false;
  try {
    assert.deepEqual(await events(), [], 'nothing happened yet');
    const [killed, other] = await pids();
    process.kill(killed, 'SIGKILL');
    // Its replacement listens: the gateway has two workers again.
    await candor.waitForLines('listening', 3, 15_000);
    const now = await pids();
    const replacement = now.find((pid) => pid !== other);
    assert.equal(now.length, 2);
    assert.ok(replacement !== undefined && replacement !== killed, JSON.stringify(now));

    const [died, ...more] = await events();
    assert.deepEqual(more, [], 'one event for one death');
    const { id, at, summary, ...fields } = died;
    assert.deepEqual(fields, {
      kind: 'worker',
      pid: killed,
      exit: 'SIGKILL',
      served: true,
      short_lived_in_a_row: 1,
      restart_in_ms: 0,
      replacement_pid: replacement,
    });
    assert.equal(
      summary,
      `worker ${killed} ended by SIGKILL (its connections cut); replaced by worker ${replacement}`,
    );
    // The primary's log line, as `candor explain` reads it back: the same event.
    const lines = candor.lines.filter((l) => l.msg === 'event');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const { id: lineId, ...logged } = lines[0].event as Listed;
    assert.equal(lineId, id);
    assert.deepEqual(readEvent(logged), { ...fields, at });

    // The replacement, killed soon after it started: the second death in a row waits 100 ms,
    // and its event says so (the replacement has no pid yet when the event is recorded).
    process.kill(replacement as number, 'SIGKILL');
    await candor.waitForLines('listening', 4, 15_000);
    const listed = await events();
    assert.equal(listed.length, 2, JSON.stringify(listed));
    const { id: _id, at: _at, summary: words, ...second } = listed[1];
    assert.deepEqual(second, {
      kind: 'worker',
      pid: replacement,
      exit: 'SIGKILL',
      served: true,
      short_lived_in_a_row: 2,
      restart_in_ms: 100,
    });
    assert.equal(
      words,
      `worker ${replacement} ended by SIGKILL (its connections cut); replaced in 0.1 s (2 short-lived workers in a row)`,
    );

    // A clean stop: every worker ends its drain, and none of them is a death on the timeline.
    assert.equal(await candor.stop(), 0, candor.stderr());
    stopped = true;
    const deaths = candor.lines.filter((l) => l.msg === 'event' && (l.event as Listed).kind === 'worker');
    assert.equal(deaths.length, 2, JSON.stringify(deaths));
    assert.ok(
      candor.lines.some((l) => l.msg === 'drained'),
      `the workers drained: ${JSON.stringify(candor.lines.map((l) => l.msg))}`,
    );
  } finally {
    if (!stopped) await candor.stop();
    await echo.close();
  }
});

test('candor explain places a storm that follows a worker killed with SIGKILL after its death, suspected first with nothing to undo', {
  timeout: 90_000,
}, async () => {
  const target = await startSwitchable();
  const candor = await startServe(gatewayConfig(target.url), 2, { admin: true });
  /** Sequential GETs through the gateway, `n` of them, each status kept. */
  const traffic = async (n: number, statuses: number[]) => {
    for (let i = 0; i < n; i++) {
      const res = await request(`http://127.0.0.1:${candor.port}`, { timeoutMs: 5_000 }).catch(
        () => undefined,
      );
      if (res !== undefined) statuses.push(res.status);
      await sleep(10);
    }
  };
  try {
    const before: number[] = [];
    await traffic(100, before);
    assert.deepEqual(new Set(before), new Set([200]));
    // A quiet spell: explain's baseline is the median of the 5xx per second over the log's span.
    await sleep(3000);
    const status = await adminCall(candor.adminPort as number, 'GET', '/status', { token: TOKEN });
    const [killed] = (status.body.workers as { pid: number }[]).map((w) => w.pid);
    process.kill(killed, 'SIGKILL');
    await candor.waitForLines('listening', 3, 15_000);
    // What ended the worker ends its upstream too (the OOM killer's next pick, say): a storm.
    target.setMode('reset');
    const storm: number[] = [];
    await traffic(150, storm);
    assert.ok(storm.filter((s) => s >= 500).length >= 10, `a storm: ${JSON.stringify(storm)}`);
    target.setMode('ok');
    await traffic(20, []);

    const events = candor.lines.filter((l) => l.msg === 'event').map((l) => readEvent(l.event));
    assert.equal(events.length, 1, JSON.stringify(events));
    const died = events[0];
    assert.equal(died?.kind === 'worker' && died.pid, killed);

    const log = join(tempDir('candor-worker-explain-'), 'candor.log');
    writeFileSync(log, `${candor.lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const json = await runExplain(['--json', log]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as Report;
    assert.equal(report.storms.length, 1, JSON.stringify(report.storms, null, 2));
    const [placed] = report.storms;
    const words = new RegExp(
      `^worker ${killed} ended by SIGKILL \\(its connections cut\\); replaced by worker \\d+$`,
    );
    assert.match(String(placed.afterChange?.label), words);
    assert.equal(placed.afterChange?.source, 'log');
    assert.equal(placed.afterChange?.workerDeath, true);
    assert.ok((placed.afterChange?.seconds ?? -1) > 0, JSON.stringify(placed.afterChange));
    const text = await runExplain([log]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `^ {4}storm began [0-9.]+ m?s after worker ${killed} ended by SIGKILL \\(its connections cut\\); replaced by worker \\d+: suspect this death first`,
        'm',
      ),
    );
  } finally {
    await candor.stop();
    await target.close();
  }
});
