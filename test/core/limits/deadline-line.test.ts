import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineLine, type LinedDeadline } from '../../../src/core/limits/deadline-line.ts';

/** A deadline that notes when it passed (performance.now()), and the order deadlines passed in. */
function deadline(name: string, order: string[]): LinedDeadline & { passedAt: number } {
  return {
    dueAt: 0,
    prevInLine: undefined,
    nextInLine: undefined,
    inLine: false,
    passedAt: 0,
    passed() {
      this.passedAt = performance.now();
      order.push(name);
    },
  };
}

const until = (done: () => boolean) =>
  new Promise<void>((resolve) => {
    const look = () => (done() ? resolve() : setTimeout(look, 5));
    look();
  });

test('deadlines of one line pass in the order they started, each at its time, never before; a stopped one never passes', async () => {
  const line = new DeadlineLine(30);
  const order: string[] = [];
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => deadline(n, order));
  line.start(a);
  line.start(b);
  // The first stops: the timer set for it must still bring the others at their own time.
  line.stop(a);
  await new Promise((resolve) => setTimeout(resolve, 10));
  line.start(c);
  line.start(d);
  line.stop(d);
  // A timer that nothing else holds would let the process end: this one holds it for the test.
  const hold = setInterval(() => {}, 1000);
  await until(() => order.length === 2);
  clearInterval(hold);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(order, ['b', 'c']);
  for (const passed of [b, c]) {
    assert.ok(passed.passedAt >= passed.dueAt, `passed at ${passed.passedAt}, due at ${passed.dueAt}`);
    assert.equal(passed.inLine, false);
  }
  assert.equal(a.inLine, false);
  assert.equal(d.inLine, false);
});

test('a deadline stopped twice, or after it passed, changes nothing; the line goes on serving', async () => {
  const line = new DeadlineLine(5);
  const order: string[] = [];
  const [a, b] = ['a', 'b'].map((n) => deadline(n, order));
  line.start(a);
  const hold = setInterval(() => {}, 1000);
  await until(() => order.length === 1);
  line.stop(a);
  line.stop(a);
  line.start(b);
  await until(() => order.length === 2);
  clearInterval(hold);
  assert.deepEqual(order, ['a', 'b']);
});
