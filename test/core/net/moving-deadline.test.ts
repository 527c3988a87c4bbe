import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MovingDeadline, TimerLane } from '../../../src/core/net/moving-deadline.ts';
import { timersMadeBy } from '../../helpers/timers-made.ts';

test('a deadline moved later a thousand times makes one timer', () => {
  const deadline = new MovingDeadline(() => assert.fail('it passed'));
  const made = timersMadeBy(() => {
    for (let i = 0; i < 1000; i++) deadline.setIn(60_000);
  });
  assert.equal(made, 1);
  deadline.stop();
});

test('a deadline passes at its time by performance.now(), never before, after being moved later; moved sooner, sooner', async () => {
  let passedAt = 0;
  const deadline = new MovingDeadline(() => {
    passedAt = performance.now();
  });
  const hold = setInterval(() => {}, 1000);
  deadline.setIn(20);
  await sleep(10);
  const movedAt = performance.now();
  deadline.setIn(40, movedAt);
  while (passedAt === 0) await sleep(5);
  assert.ok(passedAt >= movedAt + 40, `passed ${passedAt - movedAt} ms after it was moved to 40 ms`);
  // Sooner than the timer set: a timer of the new length.
  passedAt = 0;
  deadline.setIn(60_000);
  const soonAt = performance.now();
  deadline.setIn(10, soonAt);
  while (passedAt === 0) await sleep(5);
  assert.ok(passedAt >= soonAt + 10);
  clearInterval(hold);
  deadline.stop();
});

test('cleared or stopped, a deadline does not pass', async () => {
  let passed = 0;
  const deadline = new MovingDeadline(() => passed++);
  deadline.setIn(10);
  deadline.clear();
  await sleep(40);
  deadline.setIn(10);
  deadline.stop();
  await sleep(40);
  assert.equal(passed, 0);
  deadline.setIn(10);
  await sleep(60);
  assert.equal(passed, 1);
});

test('passed(now) says a deadline is over before its timer fires, and not once it is set again, cleared or stopped', () => {
  const deadline = new MovingDeadline(() => assert.fail('no timer runs in this synchronous test'));
  const now = performance.now();
  deadline.setIn(100, now);
  assert.equal(deadline.passed(now + 99), false);
  assert.equal(deadline.passed(now + 100), true);
  deadline.setIn(100, now + 100);
  assert.equal(deadline.passed(now + 150), false);
  deadline.clear();
  assert.equal(deadline.passed(now + 1e9), false);
  deadline.setIn(100, now);
  deadline.stop();
  assert.equal(deadline.passed(now + 1e9), false);
});

test('first timers in a lane: one timer for all of them; each deadline passes at its time, never before; one let go never fires', async () => {
  const lane = new TimerLane(30);
  const passed: string[] = [];
  const passedAt = new Map<string, number>();
  const deadlineOf = (name: string) =>
    new MovingDeadline(() => {
      passed.push(name);
      passedAt.set(name, performance.now());
    }, lane);
  const hold = setInterval(() => {}, 1000);
  const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map(deadlineOf);
  const now = performance.now();
  // e: shorter than the lane's length: a timer of its own, not a place. Made first: made after
  // the lane's on a loaded machine (25 ms later), it would be due after it.
  assert.equal(
    timersMadeBy(() => e?.setIn(5, now)),
    1,
  );
  const made = timersMadeBy(() => {
    // a: the lane's length; b: longer (fires early from the lane, then a timer for what is left).
    a?.setIn(30, now);
    b?.setIn(70, now);
    // c: moved sooner within the lane's length, the place kept; d: its place taken back.
    c?.setIn(60_000, now);
    c?.setIn(40, now);
    d?.setIn(30, now);
    d?.stop();
  });
  assert.equal(made, 1);
  while (passed.length < 4) await sleep(5);
  await sleep(40);
  assert.deepEqual(passed, ['e', 'a', 'c', 'b']);
  for (const [name, ms] of [
    ['e', 5],
    ['a', 30],
    ['c', 40],
    ['b', 70],
  ] as const)
    assert.ok((passedAt.get(name) ?? 0) >= now + ms, `${name} passed before its time`);
  clearInterval(hold);
  for (const deadline of [a, b, c, d, e]) deadline?.stop();
});

test('a lane fires what is due and keeps the rest for later, each at its time, never before', async () => {
  const lane = new TimerLane(20);
  const passedAt: number[] = [];
  const passed: number[] = [];
  const hold = setInterval(() => {}, 1000);
  const deadlines = [0, 1, 2].map(
    (i) =>
      new MovingDeadline(() => {
        passed.push(i);
        passedAt[i] = performance.now();
      }, lane),
  );
  const setAt: number[] = [];
  const set = (i: number) => {
    setAt[i] = performance.now();
    deadlines[i]?.setIn(20, setAt[i]);
  };
  set(0);
  await sleep(8);
  set(1);
  // The oldest let go (before the lane's timer, an earlier timer's continuation runs first): the
  // lane's timer, set for it, finds the next not yet due and waits for it.
  deadlines[0]?.stop();
  await sleep(8);
  set(2);
  while (passed.length < 2) await sleep(5);
  assert.deepEqual(passed, [1, 2]);
  for (const i of [1, 2])
    assert.ok((passedAt[i] ?? 0) >= (setAt[i] ?? 0) + 20, `${i} passed before its time`);
  clearInterval(hold);
});
