/**
 * A process that was busy and went idle gives back what the load grew: V8 keeps a young
 * generation grown to its cap resident after the load, until a collection shrinks it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const MODULE = join(import.meta.dirname, '../../../src/server/gateway/idle-trim.ts');

/**
 * In a process of its own, with a worker's young-generation cap (worker-flags.ts): allocation grows
 * the young generation, a busy spin makes a window busy, then the process idles for a few
 * windows. Prints the young generation's resident MiB after the load and after the idling, and
 * (under --expose-gc, whose gc the trim takes) how many trims it made.
 * TRIM: the quiet windows the trim waits for after a load (0: no trim). HELD: objects kept alive
 * through it all (a heap the trim's collection takes longer over).
 */
const SCRIPT = `
import { getHeapSpaceStatistics } from 'node:v8';
let trims = 0;
const exposed = globalThis.gc;
if (exposed !== undefined) globalThis.gc = (options) => (trims++, exposed(options));
const { trimWhenIdle } = await import(${JSON.stringify(MODULE)});
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size / 1048576;
const WINDOW = 200;
const quiet = Number(process.env.TRIM);
const held = Array.from({ length: Number(process.env.HELD ?? 0) }, (_, i) => ({ i, s: 'y' + i, a: [i] }));
const patient = Number(process.env.PATIENT ?? 300);
const soon = Number(process.env.SOON ?? 60000);
const stop = quiet > 0 ? trimWhenIdle(WINDOW, quiet, patient, soon) : () => {};
let loaded = 0;
// Bursts after a start: the process idles some windows first, as a worker waits for traffic
// (the first window is the start's, whose trim is no load's).
if (Number(process.env.BURSTS ?? 1) > 1) await new Promise((resolve) => setTimeout(resolve, WINDOW * 5));
for (let burst = 0; burst < Number(process.env.BURSTS ?? 1); burst++) {
  let keep = [];
  const until = performance.now() + WINDOW * 1.5;
  // A window busy (the time) and the young generation grown (the allocation): a process the
  // machine's load gave little CPU in that time allocated too little to grow it.
  for (let made = 0; performance.now() < until || made < 5_000_000; made += 10000) {
    for (let i = 0; i < 10000; i++) keep.push({ i, s: 'x' + i });
    if (keep.length > 50000) keep = [];
  }
  keep = [];
  loaded = young();
  await new Promise((resolve) => setTimeout(resolve, WINDOW * 6));
}
stop();
console.log(JSON.stringify({ loaded, idle: young(), gc: typeof globalThis.gc, trims, held: held.length }));
`;

function run(
  quietWindows: number,
  flags: string[] = [],
  held = 0,
  bursts: { count: number; patient?: number; soonMs?: number } = { count: 1 },
): { loaded: number; idle: number; gc: string; trims: number } {
  const args = [...flags, '--max-semi-space-size=16', '--input-type=module', '-e', SCRIPT];
  const out = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: {
      ...process.env,
      TRIM: String(quietWindows),
      HELD: String(held),
      BURSTS: String(bursts.count),
      PATIENT: String(bursts.patient ?? 300),
      SOON: String(bursts.soonMs ?? 60_000),
    },
  });
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout.trim());
}

test('a busy process that goes idle shrinks its young generation back to its floor', () => {
  const kept = run(0);
  // Without it, V8 keeps what the load grew: the test's premise.
  assert.ok(kept.loaded >= 8, `the load grew the young generation: ${kept.loaded} MiB`);
  assert.ok(kept.idle >= 8, `and V8 keeps it when idle: ${kept.idle} MiB`);
  const trimmed = run(3);
  assert.ok(trimmed.loaded >= 8, `the load grew the young generation: ${trimmed.loaded} MiB`);
  assert.ok(trimmed.idle < 2, `given back once idle: ${trimmed.idle} MiB`);
});

test('the trim waits for its quiet windows: a lull shorter than them keeps what the load grew', () => {
  // Six idle windows, the trim waiting for twenty: the next burst finds its young generation warm.
  const waiting = run(20);
  assert.ok(waiting.loaded >= 8, `the load grew the young generation: ${waiting.loaded} MiB`);
  assert.ok(waiting.idle >= 8, `kept through a lull shorter than the quiet windows: ${waiting.idle} MiB`);
});

test('a process started with --expose-gc (the cluster primary) trims with that gc, taken off the global', () => {
  const trimmed = run(3, ['--expose-gc']);
  assert.ok(trimmed.loaded >= 8, `the load grew the young generation: ${trimmed.loaded} MiB`);
  assert.ok(trimmed.idle < 2, `given back once idle: ${trimmed.idle} MiB`);
  assert.equal(trimmed.gc, 'undefined', 'no module sees gc once the trim holds it');
});

test('one trim a lull: the collection a trim makes does not make its window busy', () => {
  // The lull is six windows: a trim that counted its own collection as load would run again.
  const trimmed = run(1, ['--expose-gc']);
  assert.ok(trimmed.loaded >= 8, `the load grew the young generation: ${trimmed.loaded} MiB`);
  assert.ok(trimmed.idle < 2, `given back once idle: ${trimmed.idle} MiB`);
  assert.equal(trimmed.trims, 1);
});

test('one trim a lull when the collection takes most of a window, or more', () => {
  // 300,000 objects kept: the trim's collection takes 100–260 ms of a 200 ms window. The next
  // check then comes at once, and V8's helper threads go on sweeping after it; judged as load,
  // either made the trim run again (2 or 3 trims before).
  const trimmed = run(1, ['--expose-gc'], 300_000);
  assert.ok(trimmed.idle < 2, `given back once idle: ${trimmed.idle} MiB`);
  assert.equal(trimmed.trims, 1);
});

test('a burst soon after a trim makes the next trim patient: bursts that keep coming keep their warm code', () => {
  // After the start's trim, two bursts, each followed by six quiet windows; the second comes a
  // second after the first's trim (well within a minute): its lull, shorter than the twenty
  // patient windows, keeps it all.
  const bursty = run(1, ['--expose-gc'], 0, { count: 2, patient: 20 });
  assert.ok(bursty.loaded >= 8, `the second burst grew the young generation: ${bursty.loaded} MiB`);
  assert.ok(bursty.idle >= 8, `kept after the second burst: ${bursty.idle} MiB`);
  assert.equal(bursty.trims, 2, "the start's and the first burst's");
  // The same bursts, "soon" a millisecond: each burst's trim was worth it, and the next is quick.
  const spaced = run(1, ['--expose-gc'], 0, { count: 2, patient: 20, soonMs: 1 });
  assert.ok(spaced.idle < 2, `given back after the second burst too: ${spaced.idle} MiB`);
  assert.equal(spaced.trims, 3, "the start's and each burst's");
});
