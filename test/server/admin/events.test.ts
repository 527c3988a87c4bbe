/**
 * The deploy timeline on a real `candor serve --workers 2` (issue 36): an admin change, a
 * reload, then the only target dies (it resets every connection) under steady traffic. GET
 * /events shows the three changes in order, the health transition with its failure type, and
 * `since` and `after` (an event's id) keep only later ones; the log has an event line for each; and `candor explain`, the
 * real CLI, reads that log and places the 502 storm after the reload, the nearest change before it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Report } from '../../../src/kits/explain/report.ts';
import { type SwitchableUpstream, startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { runExplain } from '../../kits/explain/explain-fixture.ts';
import { timelineConfig, timelineDir } from './timeline-fixture.ts';

const TOKEN = 'events-test-token-0123456789abcdef';

/** The timeline's config; the reloaded version checks health more often, so `app` changes too. */
const configText = (adminPort: number, tokenFile: string, target: string, reloaded: boolean) =>
  timelineConfig({
    name: 'timeline-edge',
    adminPort,
    tokenFile,
    target,
    extra: reloaded,
    upstreamLines: [
      `health_check: { path: /health, interval: ${reloaded ? '250ms' : '300ms'}, timeout: 300ms, rise: 1, fall: 2 }`,
      'retries: { attempts: 1 }',
    ],
  });

interface Listed {
  kind: string;
  at: string;
  summary: string;
  [field: string]: unknown;
}

/** Polls `check` until it returns a value other than undefined; fails naming `what` after `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not seen within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sequential GETs through the gateway, `n` of them, each status kept. */
async function traffic(base: string, n: number, statuses: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await request(base, { path: '/app', timeoutMs: 5_000 }).catch(() => undefined);
    if (res !== undefined) statuses.push(res.status);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('a reload then a storm: GET /events shows the reload and the health transition, the log has their lines, explain places the storm after the reload', {
  timeout: 90_000,
}, async () => {
  const { dir, tokenFile, configPath: path } = timelineDir('candor-events-', TOKEN);
  const target: SwitchableUpstream = await startSwitchable();
  const adminPort = await freePort();
  writeFileSync(path, configText(adminPort, tokenFile, target.url, false));
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(path, 2, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    const admin = (method: string, url: string, body?: unknown) =>
      adminCall(adminPort, method, url, { token: TOKEN, body });
    const events = async (query = '') => {
      const { status, body } = await admin('GET', `/events${query}`);
      assert.equal(status, 200, JSON.stringify(body));
      return body as { kept: number; workers: { asked: number; answered: number }; events: Listed[] };
    };

    const first = await events();
    assert.deepEqual(first.events, [], 'nothing changed yet');
    assert.equal(first.kept, 1000);
    assert.deepEqual(first.workers, { asked: 2, answered: 2 });

    const statuses: number[] = [];
    await traffic(base, 100, statuses);
    const weights = await admin('PUT', '/targets/weights', {
      upstream: 'app',
      weights: [{ target: target.url, weight: 50 }],
    });
    assert.equal(weights.status, 200);
    await traffic(base, 50, statuses);
    writeFileSync(path, configText(adminPort, tokenFile, target.url, true));
    const reload = await admin('POST', '/reload');
    assert.equal(reload.status, 200, JSON.stringify(reload.body));
    await traffic(base, 50, statuses);
    assert.deepEqual(new Set(statuses), new Set([200]), 'every request answered before the target died');

    // A quiet spell before the storm: explain's baseline is the median of the 5xx per second over
    // the log's whole span, and on a loaded machine a storm that lasts as long as the calm before
    // it would be its own baseline.
    await sleep(4000);
    // The only target dies: it resets every connection, as a crashed process whose port is held.
    target.setMode('reset');
    await traffic(base, 150, statuses);
    const health = await until('the health transition on GET /events', async () => {
      const listed = (await events()).events;
      return listed.find((e) => e.kind === 'health') === undefined ? undefined : listed;
    });
    assert.ok(
      statuses.filter((s) => s >= 500).length >= 10,
      `a storm: ${statuses.filter((s) => s >= 500).length} 5xx`,
    );
    target.setMode('ok');
    await traffic(base, 20, []);

    const listed = (await events()).events;
    assert.deepEqual(
      listed.map((e) => e.kind).slice(0, 3),
      ['admin', 'reload', 'health'],
      JSON.stringify(listed, null, 2),
    );
    const [adminEvent, reloadEvent, healthEvent] = listed;
    assert.deepEqual(adminEvent.change, {
      kind: 'weights',
      upstream: 'app',
      weights: [{ target: target.url, weight: 50 }],
    });
    assert.equal(reloadEvent.config_hash, (reload.body as { config_hash: string }).config_hash);
    assert.equal(reloadEvent.via, 'admin');
    assert.deepEqual(reloadEvent.routes, { added: ['extra'], removed: [], changed: [] });
    assert.deepEqual(reloadEvent.upstreams, { added: [], removed: [], changed: ['app'] });
    assert.equal(
      reloadEvent.summary,
      `reload ${reloadEvent.config_hash} (route extra added; upstream app changed)`,
    );
    assert.equal(healthEvent.upstream, 'app');
    assert.equal(healthEvent.target, `http://127.0.0.1:${target.port}`);
    assert.equal(healthEvent.state, 'unhealthy');
    assert.match(String(healthEvent.failure), /^connection_/);
    assert.ok(health.length >= 3);
    const times = listed.map((e) => Date.parse(e.at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'oldest first',
    );

    // since: only what came after the reload; a time that is not one is refused by its field.
    const since = await events(`?since=${encodeURIComponent(reloadEvent.at)}`);
    assert.deepEqual(since.events[0]?.kind, 'health');
    assert.ok(!since.events.some((e) => e.kind === 'reload' || e.kind === 'admin'));
    const ms = await events(`?since=${Date.parse(reloadEvent.at)}`);
    // Asked later: the revived target's return to health may have come between the two reads.
    assert.deepEqual(ms.events.slice(0, since.events.length), since.events);
    const bad = await admin('GET', '/events?since=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'since');
    // after: the cursor a poller passes (its last id), asked of every worker too.
    const afterAdmin = await events(`?after=${adminEvent.id}`);
    assert.equal(afterAdmin.workers.answered, 2);
    assert.deepEqual(
      afterAdmin.events.slice(0, 2).map((e) => e.id),
      [reloadEvent.id, healthEvent.id],
    );
    assert.ok((reloadEvent.id as number) > (adminEvent.id as number));

    // The log has one event line per change, each once (the primary records it, not each worker).
    const lines = serve.lines.filter((l) => l.msg === 'event');
    assert.deepEqual(lines.map((l) => (l.event as { kind: string }).kind).slice(0, 3), [
      'admin',
      'reload',
      'health',
    ]);
    assert.equal(lines.filter((l) => (l.event as { kind: string }).kind === 'reload').length, 1);

    // explain, the real CLI, on that log: the storm began after the reload, its nearest change.
    const log = join(dir, 'candor.log');
    writeFileSync(log, `${serve.lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const json = await runExplain(['--json', log]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as Report;
    assert.equal(report.storms.length, 1, JSON.stringify(report.storms, null, 2));
    const [storm] = report.storms;
    assert.equal(storm.upstream, 'app');
    assert.equal(storm.afterChange?.source, 'log');
    assert.equal(storm.afterChange?.label, reloadEvent.summary);
    assert.ok(storm.afterChange.seconds > 0);
    assert.ok(
      storm.changesDuring.some((c) =>
        c.label.startsWith(`target http://127.0.0.1:${target.port} (upstream app) went unhealthy`),
      ),
      JSON.stringify(storm.changesDuring),
    );
    const text = await runExplain([log]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `^ {4}storm began [0-9.]+ m?s after reload ${reloadEvent.config_hash} \\(route extra added; upstream app changed\\): suspect this change first`,
        'm',
      ),
    );
  } finally {
    await serve?.stop();
    await target.close();
  }
});
