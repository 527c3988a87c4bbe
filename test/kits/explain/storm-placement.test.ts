/**
 * Every storm is placed against the nearest change before it (issue 36, the deploy timeline):
 * a deploy of --deploys or a change the gateway logged, whichever came last; one made during
 * the storm is not its cause; and a storm no change precedes is said to have none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { candorReader } from '../../../src/kits/explain/readers/candor-reader.ts';
import { storm as renderStorm } from '../../../src/kits/explain/render-storms.ts';
import { buildReport } from '../../../src/kits/explain/report.ts';
import { StormCounter } from '../../../src/kits/explain/storm-counter.ts';
import { type Change, findStorms, nearestBefore } from '../../../src/kits/explain/storms.ts';
import { CHANGES_KEPT, Tally } from '../../../src/kits/explain/tally.ts';

const START = Date.UTC(2026, 10, 23, 10, 0, 0);
const BUCKET = 1000;

/** 20 requests a second, `errors[i]` of them 502s in second i. */
function counter(errors: number[]): StormCounter {
  const c = new StormCounter(BUCKET);
  errors.forEach((n, i) => {
    for (let r = 0; r < 20; r++)
      c.add('api', START + i * BUCKET + r * 10, r < n, r < n ? 'connection_refused' : undefined);
  });
  return c;
}

const at = (second: number) => START + second * BUCKET;
const change = (second: number, label: string, source: Change['source'] = 'log'): Change => ({
  at: at(second),
  label,
  source,
});

test('the nearest change before the storm is its suspect, not an earlier one nor one made during it', () => {
  const storms = findStorms(counter([0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 0, 0, 0, 0, 0, 0, 0]), [
    change(2, 'v41', 'deploys'),
    change(5, 'reload sha256:aaaa (route api changed)'),
    change(9, 'target http://10.0.0.7:80 (upstream api) went unhealthy (connection_refused)'),
  ]);
  assert.equal(storms.length, 1);
  const [storm] = storms;
  assert.equal(storm.afterChange?.label, 'reload sha256:aaaa (route api changed)');
  assert.equal(storm.afterChange?.source, 'log');
  assert.equal(storm.afterChange?.ms, storm.began - at(5));
  assert.deepEqual(
    storm.changesDuring.map((c) => c.label),
    ['target http://10.0.0.7:80 (upstream api) went unhealthy (connection_refused)'],
  );
});

test('a deploy of --deploys and a logged change are one timeline: the later one wins', () => {
  const [storm] = findStorms(counter([0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 0, 0, 0, 0, 0, 0]), [
    change(3, 'reload sha256:bbbb (route api changed)'),
    change(6, 'v42', 'deploys'),
  ]);
  assert.equal(storm.afterChange?.label, 'v42');
  assert.equal(storm.afterChange?.source, 'deploys');
});

test('no change before the storm: none is named (a change only after it is not its cause)', () => {
  const [storm] = findStorms(counter([0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 0, 0, 0, 0, 0, 0]), [
    change(14, 'reload sha256:cccc (route api changed)'),
  ]);
  assert.equal(storm.afterChange, undefined);
  assert.deepEqual(storm.changesDuring, []);
});

test('a deploy stamped within the bucket after the first 5xx still counts; a logged change, stamped to the ms, must come first', () => {
  const began = at(8);
  assert.equal(nearestBefore([change(8.5, 'v43', 'deploys')], began, BUCKET)?.label, 'v43');
  assert.equal(nearestBefore([change(8.5, 'reload sha256:dddd', 'log')], began, BUCKET), undefined);
  assert.equal(nearestBefore([], began, BUCKET), undefined);
});

test("Candor's event lines are read as changes; a line made to look like one is not", () => {
  const line = (event: unknown) =>
    JSON.stringify({ level: 'info', time: '2026-11-23T10:00:05.000Z', gateway: 'edge', event, msg: 'event' });
  const reload = {
    kind: 'reload',
    at: '2026-11-23T10:00:05.000Z',
    config_hash: 'sha256:0123456789abcdef',
    via: 'SIGHUP',
    routes: { added: [], removed: [], changed: [] },
    upstreams: { added: [], removed: [], changed: ['api'] },
    targets: { api: { joined: ['http://10.0.0.7:80'], left: [] } },
  };
  assert.deepEqual(candorReader.read(line(reload)), {
    kind: 'change',
    time: Date.parse(reload.at),
    label: 'reload sha256:0123456789abcdef (upstream api: target http://10.0.0.7:80 joined)',
  });
  const canary = {
    kind: 'canary',
    at: '2026-11-23T10:00:06.000Z',
    route: 'api',
    upstream: 'api-next',
    action: 'step',
    weight: 25,
  };
  assert.equal(
    (candorReader.read(line(canary)) as { label: string }).label,
    'canary api-next moved to 25% (route api)',
  );
  for (const forged of [
    { ...reload, at: 'yesterday' },
    { ...reload, config_hash: 42 },
    { ...reload, targets: { api: { joined: 'http://x', left: [] } } },
    { ...canary, weight: 250 },
    { ...canary, action: 'exploded' },
    { kind: 'health', at: reload.at, upstream: 'api', target: 'x'.repeat(5000), state: 'unhealthy' },
    { kind: 'unknown', at: reload.at },
    null,
    'reload',
  ])
    assert.equal(candorReader.read(line(forged)), undefined, JSON.stringify(forged)?.slice(0, 80));
});

test("a worker's death is read as a change and a storm after it is placed after it, suspected with nothing to undo; a line made to look like one is not", () => {
  const line = (event: unknown) =>
    JSON.stringify({ level: 'info', time: '2026-11-23T10:00:05.000Z', gateway: 'edge', event, msg: 'event' });
  const died = {
    kind: 'worker',
    at: '2026-11-23T10:00:05.000Z',
    pid: 4242,
    exit: 'SIGKILL',
    served: true,
    short_lived_in_a_row: 1,
    restart_in_ms: 0,
    replacement_pid: 4250,
  };
  const words = 'worker 4242 ended by SIGKILL (its connections cut); replaced by worker 4250';
  assert.deepEqual(candorReader.read(line(died)), {
    kind: 'change',
    time: Date.parse(died.at),
    label: words,
    workerDeath: true,
  });
  for (const forged of [
    { ...died, pid: '4242' },
    { ...died, exit: 'KILL' },
    { ...died, served: 1 },
    { ...died, restart_in_ms: -1 },
  ])
    assert.equal(candorReader.read(line(forged)), undefined, JSON.stringify(forged));

  const [storm] = findStorms(counter([0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 0, 0, 0, 0, 0, 0, 0]), [
    change(2, 'reload sha256:aaaa (route api changed)'),
    { ...change(7.5, words), workerDeath: true },
  ]);
  assert.equal(storm.afterChange?.label, words);
  assert.equal(storm.afterChange?.workerDeath, true);
  const row = {
    upstream: 'api',
    began: '2026-11-23T10:00:08.000Z',
    ended: '2026-11-23T10:00:10.900Z',
    seconds: 2.9,
    errors: 45,
    requests: 60,
    peakPerSecond: 15,
    baselinePerSecond: 0,
    types: [{ type: 'connection_refused', count: 45 }],
    afterChange: {
      label: words,
      at: '2026-11-23T10:00:07.500Z',
      source: 'log' as const,
      seconds: 0.5,
      workerDeath: true as const,
    },
    changesDuring: [],
    health: [],
  };
  assert.equal(
    renderStorm(row, false).split('\n')[1],
    `    storm began 500 ms after ${words}: suspect this death first (what the worker held was cut, and nothing is to be undone: look for what ended it, the log's "worker crashed" line or the kernel's OOM killer, and whether its replacement dies too)`,
  );
  // A reload placed alike is still a change to undo.
  const { workerDeath: _death, ...reload } = row.afterChange;
  assert.match(
    renderStorm({ ...row, afterChange: { ...reload, label: 'reload sha256:aaaa' } }, false),
    /suspect this change first \(undo it/,
  );
});

test('changes are kept up to a bound, and the report says when some were left out', () => {
  const tally = new Tally(BUCKET);
  for (let i = 0; i <= CHANGES_KEPT; i++)
    tally.addChange({ kind: 'change', time: START + i, label: `reload ${i}` });
  assert.equal(tally.changes.length, CHANGES_KEPT);
  assert.equal(tally.changeLines, CHANGES_KEPT + 1);
  const report = buildReport(tally, [], []);
  assert.ok(
    report.notes.some((n) =>
      n.startsWith(
        `${CHANGES_KEPT + 1} change lines (Candor's event lines) were read and the first ${CHANGES_KEPT} kept`,
      ),
    ),
    JSON.stringify(report.notes),
  );
});
