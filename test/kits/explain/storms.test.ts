/** Storms in the recorded logs (the app was stopped at deploy v42 for three seconds) and in made-up counts. */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDeploys } from '../../../src/kits/explain/deploys.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { StormCounter } from '../../../src/kits/explain/storm-counter.ts';
import { findStorms } from '../../../src/kits/explain/storms.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, fixture, LOG_SETS, lines } from './explain-fixture.ts';

const DEPLOYS = fixture('deploys.txt');
const v42 = Date.parse(lines('deploys.txt')[1].split(' ')[0]);

for (const [proxy, files] of Object.entries(LOG_SETS)) {
  test(`${proxy}: the storm after deploy v42 stands out, on the app's upstream only`, async () => {
    const report = await explain(files, { deploys: DEPLOYS });
    assert.equal(report.bucketSeconds, 1, 'a 14 s recording gets 1 s buckets');
    assert.equal(report.storms.length, 1, JSON.stringify(report.storms, null, 2));
    const [storm] = report.storms;
    const app = report.upstreams.find((u) => u.first5xx === storm.began);
    assert.equal(storm.upstream, app?.name);
    assert.equal(storm.types[0].type, 'connection_refused');
    assert.equal(storm.baselinePerSecond, 0);
    assert.ok(storm.peakPerSecond >= 8, `peak ${storm.peakPerSecond}/s`);
    assert.ok(storm.seconds >= 2 && storm.seconds <= 4, `lasted ${storm.seconds} s (the app was down 3 s)`);
    assert.equal(storm.afterChange?.label, 'v42', 'not v41, an hour before');
    // nginx's access log has 1 s resolution: its first 5xx may be stamped before the deploy.
    assert.ok(Math.abs(storm.afterChange.seconds) < 1, `began ${storm.afterChange.seconds} s after`);
    assert.ok(Math.abs(Date.parse(storm.began) - v42) < 1000);
  });
}

test('without --deploys the storm is found all the same, with no deploy to blame', async () => {
  const report = await explain(LOG_SETS.candor);
  assert.equal(report.storms.length, 1);
  assert.equal(report.storms[0].afterChange, undefined);
});

test('a fixed bucket size is kept', async () => {
  const report = await explain(LOG_SETS.candor, { bucketMs: 10_000 });
  assert.equal(report.bucketSeconds, 10);
});

function counter(perBucket: number[], bucketMs = 10_000, start = Date.UTC(2026, 0, 1)): StormCounter {
  const c = new StormCounter(bucketMs);
  perBucket.forEach((errors, i) => {
    const at = start + i * bucketMs;
    for (let n = 0; n < 20; n++)
      c.add('api', at + n, n < errors, n < errors ? 'connection_refused' : undefined);
  });
  return c;
}

test('a storm is well above the usual rate: a steady trickle is not one', () => {
  assert.deepEqual(findStorms(counter([2, 2, 2, 2, 2, 2, 2, 2]), []), []);
  assert.deepEqual(findStorms(counter([0, 1, 0, 2, 0, 1, 0, 0]), []), []);
  const storms = findStorms(counter([1, 1, 1, 9, 12, 1, 10, 1, 1, 1, 1]), []);
  assert.equal(storms.length, 1, 'one cold bucket does not split a storm');
  assert.equal(storms[0].errors, 9 + 12 + 1 + 10);
  assert.equal(storms[0].baselinePerSecond, 0.1);
  assert.equal(storms[0].peakPerSecond, 1.2);
});

test('an outage still going at the end of the log, over half of it, is a storm', () => {
  // The usual case of a first look: the last minutes' log of an upstream down for most of them
  // (recorded through two real gateways: 4 s of 200s, then every answer a 502 or 503 for 5 s).
  // The median bucket is then a failing one; it is no upstream's usual rate.
  const storms = findStorms(counter([0, 0, 0, 0, 20, 20, 20, 20, 20, 20]), []);
  assert.equal(storms.length, 1, JSON.stringify(storms));
  assert.equal(storms[0].errors, 120);
  assert.equal(storms[0].baselinePerSecond, 0);
  assert.equal(storms[0].began, Date.UTC(2026, 0, 1) + 40_000);
  // A log that began inside an outage, which then ended: a storm too.
  const began = findStorms(counter([20, 20, 20, 20, 20, 20, 0, 0, 0]), []);
  assert.equal(began.length, 1, JSON.stringify(began));
  assert.equal(began[0].errors, 120);
  // An upstream failing a share of its requests, or most of them, all along: no rise, no storm.
  assert.deepEqual(findStorms(counter([6, 5, 6, 6, 5, 6, 6, 5]), []), []);
  assert.deepEqual(findStorms(counter([15, 12, 8, 16, 14, 9, 15, 13]), []), []);
});

test('two storms far apart are two; the deploy before each is named', () => {
  const start = Date.UTC(2026, 0, 1);
  const { deploys } = parseDeploys(
    `# deploys\n${new Date(start + 25_000).toISOString()} v1\n\n${new Date(start + 95_000).toISOString()} v2 (canary)\n`,
  );
  const storms = findStorms(
    counter([0, 0, 0, 15, 15, 0, 0, 0, 0, 0, 20, 0, 0, 0], 10_000, start),
    deploys.map((d) => ({ ...d, source: 'deploys' as const })),
  );
  assert.deepEqual(
    storms.map((s) => [s.afterChange?.label, s.afterChange?.ms]),
    [
      ['v1', 5000],
      ['v2 (canary)', 5000],
    ],
  );
});

test('deploys files: ISO times and labels; a bad line is reported by number', () => {
  const { deploys, bad } = parseDeploys(
    '2026-11-21T13:11:05Z v42\nyesterday v1\n2026-11-21T12:00:00+01:00\n',
  );
  assert.deepEqual(bad, [2]);
  assert.deepEqual(deploys, [
    { at: Date.parse('2026-11-21T11:00:00Z'), label: '2026-11-21T12:00:00+01:00' },
    { at: Date.parse('2026-11-21T13:11:05Z'), label: 'v42' },
  ]);
});

test('buckets grow with the span, so memory stays bounded by buckets, not lines', () => {
  const c = new StormCounter();
  const start = Date.UTC(2026, 0, 1);
  for (let s = 0; s < 7 * 86_400; s += 7)
    c.add(`u${s % 3}`, start + s * 1000, s % 5 === 0, 'connection_refused');
  assert.ok(c.bucketMs >= 300_000, `bucket ${c.bucketMs} ms for a week`);
  for (const series of c.series.values()) assert.ok(series.size <= 4001);
  assert.equal(c.settle(), 3_600_000, 'a week is reported in hours');
});

test('a storm over hour-long buckets (a week of logs) gives its peak in a unit where it is not 0', async (t) => {
  const dir = tempDir('candor-storm-rate-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const line = (time: number, status: number) =>
    JSON.stringify({
      level: status >= 500 ? 'warn' : 'info',
      time: new Date(time).toISOString(),
      gateway: 'edge-1',
      upstream: 'app',
      target: 'http://127.0.0.1:3001',
      status,
      ...(status >= 500 ? { error: 'connection_refused', shape: 'unreachable', stage: 'not_sent' } : {}),
      msg: 'request',
    });
  const start = Date.UTC(2026, 10, 1);
  const hour = 3_600_000;
  const out: string[] = [];
  for (let h = 0; h < 7 * 24; h++) out.push(line(start + h * hour, 200));
  // Hour 100: 30 refused in a minute, the only 5xx of the week.
  for (let n = 0; n < 30; n++) out.push(line(start + 100 * hour + 60_000 + n * 2000, 502));
  out.sort((a, b) => Date.parse(JSON.parse(a).time) - Date.parse(JSON.parse(b).time));
  const file = join(dir, 'week.log');
  await writeFile(file, `${out.join('\n')}\n`);
  const report = await explain([file]);
  assert.equal(report.bucketSeconds, 3600);
  assert.equal(report.storms.length, 1);
  const stormLine = renderText(report)
    .split('\n')
    .find((text) => text.startsWith('  app: '));
  assert.match(
    stormLine ?? '',
    /, 30 5xx of 31 requests, peak 0\.5\/min \(usually 0\/s\): connection_refused ×30$/,
  );
});
