/**
 * A process that was busy and went idle gives back what the load grew: V8 keeps a young
 * generation grown to its cap resident after the load, until a collection shrinks it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { WORKER_V8_FLAGS } from '../../../src/server/cluster/worker-flags.ts';

const MODULE = join(import.meta.dirname, '../../../src/server/gateway/idle-trim.ts');

/**
 * In a process of its own, with a worker's young-generation cap (worker-flags.ts): allocation grows
 * the young generation, a busy spin makes a window busy, then the process idles for a few
 * windows. Prints the young generation's resident MiB after the load and after the idling, and
 * (under --expose-gc, whose gc the trim takes) how many trims it made.
 * TRIM: the quiet windows the trim waits for after a load (0: no trim).
 */
const SCRIPT = `
import { getHeapSpaceStatistics } from 'node:v8';
let trims = 0;
const exposed = globalThis.gc;
if (exposed !== undefined) globalThis.gc = (options) => (trims++, exposed(options));
const { trimWhenIdle } = await import(${JSON.stringify(MODULE)});
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size / 1048576;
const WINDOW = 200;
const sleep = (windows) => new Promise((resolve) => setTimeout(resolve, WINDOW * windows));
const quiet = Number(process.env.TRIM);
const bursts = Number(process.env.BURSTS ?? 1);
const stop = quiet > 0 ? trimWhenIdle(WINDOW, quiet, Number(process.env.BURSTY ?? 60)) : () => {};
// BURSTS > 1: the start's trim first (a quiet window), then loads three windows apart.
if (bursts > 1) await sleep(2.5);
let loaded = 0;
for (let burst = 0; burst < bursts; burst++) {
  if (burst > 0) await sleep(3);
  let keep = [];
  const until = performance.now() + WINDOW * 1.5;
  while (performance.now() < until) {
    for (let i = 0; i < 10000; i++) keep.push({ i, s: 'x' + i });
    if (keep.length > 50000) keep = [];
  }
  keep = [];
  loaded = young();
}
await sleep(6);
stop();
console.log(JSON.stringify({ loaded, idle: young(), gc: typeof globalThis.gc, trims }));
`;

function run(
  quietWindows: number,
  flags: string[] = [],
  env: Record<string, string> = {},
): { loaded: number; idle: number; gc: string; trims: number } {
  const args = [...flags, '--max-semi-space-size=16', '--input-type=module', '-e', SCRIPT];
  const out = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, TRIM: String(quietWindows), ...env },
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

test('a load back soon after a trim is a burst among others: the next lull keeps what it grew', () => {
  // The start's trim, a load and its trim a window after, a load three windows later, six idle.
  const bursty = run(1, ['--expose-gc'], { BURSTS: '2', BURSTY: '20' });
  assert.ok(bursty.loaded >= 8, `the load grew the young generation: ${bursty.loaded} MiB`);
  assert.ok(bursty.idle >= 8, `kept through the second lull, shorter than twenty windows: ${bursty.idle} MiB`);
  assert.equal(bursty.trims, 2, "the start's and the first load's");
  // The premise: with bursts told apart only a window after a trim, the second lull is trimmed too.
  const apart = run(1, ['--expose-gc'], { BURSTS: '2', BURSTY: '1' });
  assert.ok(apart.idle < 2, `given back after the second load: ${apart.idle} MiB`);
  assert.equal(apart.trims, 3);
});

test("a worker's young generation, trimmed to its floor, grows back to its cap in one step under the next burst", () => {
  // What a trim a second after each load costs the next burst is mostly this: by V8's default
  // factor the young generation grows back in doublings, each once the survivors outgrow it.
  // The burst: requests' objects that live across scavenges (those in flight), by count.
  const burst = `
const { getHeapSpaceStatistics } = await import('node:v8');
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
globalThis.gc({ type: 'major', flavor: 'last-resort' });
const sizes = [young()];
let inFlight = [];
for (let round = 0; round < 60; round++) {
  for (let i = 0; i < 5000; i++) inFlight.push({ i, s: 'x' + i });
  if (inFlight.length > 40000) inFlight = inFlight.slice(20000);
  if (young() !== sizes.at(-1)) sizes.push(young());
}
console.log(JSON.stringify(sizes));
`;
  const grown = (flags: readonly string[]): number[] => {
    const out = spawnSync(process.execPath, [...flags, '--expose-gc', '--input-type=module', '-e', burst], {
      encoding: 'utf8',
    });
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout.trim());
  };
  // V8 first takes it to its initial size (1 → 2 MiB here), then straight to the cap.
  const worker = grown(WORKER_V8_FLAGS);
  assert.equal(worker.at(-1), 32, `at the cap, two 16 MB semi-spaces: ${worker.join(' → ')} MiB`);
  assert.ok(worker.length <= 3, `in one step past its initial size: ${worker.join(' → ')} MiB`);
  // The premise: by the default factor the same burst leaves it doubling, short of its cap.
  const doubling = grown(WORKER_V8_FLAGS.filter((flag) => !flag.startsWith('--semi-space-growth-factor')));
  assert.ok((doubling.at(-1) ?? 0) < 32 && doubling.length > 3, `by doublings: ${doubling.join(' → ')} MiB`);
});
