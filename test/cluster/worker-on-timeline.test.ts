/**
 * A worker that dies while the gateway runs is on the deploy timeline: its death cut every
 * request and tunnel it held, and "what happened at 03:12?" is answered by GET /events and by
 * the log line `candor explain` reads back, not by the primary's warn line alone. On a real
 * `candor serve --workers 2`, with real SIGKILLs; a clean SIGTERM drain records none.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { readEvent } from '../../src/observe/events/read-event.ts';
import { adminCall, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const TOKEN = 'worker-timeline-token-abcdefgh';

interface Listed {
  kind: string;
  id: number;
  at: string;
  summary: string;
  [field: string]: unknown;
}

test('a worker killed with SIGKILL is one `worker` event on GET /events (its pid, its signal, its replacement), its log line read back as it; a second death soon after waits out its backoff; SIGTERM records none', {
  timeout: 90_000,
}, async () => {
  const echo = await startEcho();
  const dir = tempDir('candor-worker-timeline-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }\n` +
      `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`,
  );
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
