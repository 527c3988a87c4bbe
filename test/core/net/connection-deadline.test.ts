import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionDeadline } from '../../../src/core/net/connection-deadline.ts';
import { TimerLane } from '../../../src/core/net/moving-deadline.ts';
import { timersMadeBy } from '../../helpers/timers-made.ts';

test('a connection that alternates between its deadlines makes one timer per deadline, not one per arm', () => {
  const deadline = new ConnectionDeadline();
  const head = () => assert.fail('the head deadline fired');
  const idle = () => assert.fail('the keep-alive deadline fired');
  const made = timersMadeBy(() => {
    for (let i = 0; i < 1000; i++) {
      deadline.arm(60_000, head);
      deadline.arm(30_000, idle);
    }
  });
  assert.equal(made, 2);
  deadline.release();
});

test('only the deadline armed last fires; disarmed, none does; refreshed after it fired, it fires again', async () => {
  const deadline = new ConnectionDeadline();
  const fired: string[] = [];
  const first = () => fired.push('first');
  const second = () => fired.push('second');
  deadline.arm(20, first);
  deadline.arm(20, second);
  await sleep(80);
  assert.deepEqual(fired, ['second']);
  deadline.refresh();
  await sleep(80);
  assert.deepEqual(fired, ['second', 'second']);
  deadline.arm(20, first);
  deadline.disarm();
  deadline.refresh();
  await sleep(80);
  assert.deepEqual(fired, ['second', 'second']);
  deadline.arm(20, first);
  deadline.release();
  await sleep(80);
  assert.deepEqual(fired, ['second', 'second']);
});

test('a deadline armed again with another duration runs for the new one', async () => {
  const deadline = new ConnectionDeadline();
  const fired: string[] = [];
  const once = () => fired.push('once');
  deadline.arm(60_000, once);
  deadline.arm(20, once);
  await sleep(100);
  assert.deepEqual(fired, ['once']);
  deadline.release();
});

test('with a first timer within a bound, a sooner deadline armed within it makes no timer, and each deadline passes at its time', async () => {
  const fired: string[] = [];
  const head = () => fired.push('head');
  const linger = () => fired.push('linger');
  // A connection's life: a long head wait, then (its answer sent) a shorter lingering close.
  const closing = new ConnectionDeadline(new TimerLane(40));
  const made = timersMadeBy(() => {
    closing.arm(60_000, head);
    closing.arm(60, linger);
  });
  assert.equal(made, 1);
  const lingerArmedAt = performance.now();
  while (fired.length === 0) await sleep(5);
  assert.deepEqual(fired, ['linger']);
  assert.ok(performance.now() >= lingerArmedAt + 60, 'the linger deadline passed before its time');
  // One that outlives the first timer: it fires early, is set again, and the head deadline passes at its time.
  const living = new ConnectionDeadline(new TimerLane(20));
  const headArmedAt = performance.now();
  living.arm(80, head);
  while (fired.length === 1) await sleep(5);
  assert.deepEqual(fired, ['linger', 'head']);
  assert.ok(performance.now() >= headArmedAt + 80, 'the head deadline passed before its time');
  closing.release();
  living.release();
});
