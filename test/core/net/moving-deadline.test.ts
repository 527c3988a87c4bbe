import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MovingDeadline } from '../../../src/core/net/moving-deadline.ts';
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
