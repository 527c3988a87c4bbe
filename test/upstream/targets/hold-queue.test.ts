import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HeldRequest, HoldQueue } from '../../../src/upstream/targets/hold-queue.ts';
import { waitUntil } from '../../helpers/wait.ts';

const bounds = { maxRequests: 3, maxBody: 100 };

function held(queue: HoldQueue, log: string[], name: string, bytes = 0, seq = queue.ticket()): HeldRequest {
  return { seq, bytes, wake: () => log.push(`wake ${name}`), drained: () => log.push(`drained ${name}`) };
}

test('the waiting go in order of arrival; one held again keeps its place', () => {
  const queue = new HoldQueue();
  const log: string[] = [];
  const a = held(queue, log, 'a');
  const b = held(queue, log, 'b');
  assert.equal(queue.enter(b, bounds), undefined);
  assert.equal(queue.enter(a, bounds), undefined);
  queue.targetBack();
  assert.deepEqual(log, ['wake a', 'wake b']);
  assert.equal(queue.size, 0);
});

test('bounds: max_requests and max_body refuse at once; a leaving request gives its place and bytes back', () => {
  const queue = new HoldQueue();
  const log: string[] = [];
  const big = held(queue, log, 'big', 90);
  assert.equal(queue.enter(big, bounds), undefined);
  assert.equal(queue.enter(held(queue, log, 'more', 11), bounds), 'max_body');
  assert.equal(queue.enter(held(queue, log, 'b'), bounds), undefined);
  assert.equal(queue.enter(held(queue, log, 'c'), bounds), undefined);
  assert.equal(queue.enter(held(queue, log, 'd'), bounds), 'max_requests');
  queue.leave(big);
  assert.equal(queue.enter(held(queue, log, 'fits', 100), bounds), undefined);
  queue.drain();
  assert.deepEqual(log, ['drained b', 'drained c', 'drained fits']);
  assert.equal(queue.enter(held(queue, log, 'late'), bounds), 'draining');
});

test('with health checks, the waiting ask for a probe at once (once per scout time, however many) and every scout time after', async () => {
  const queue = new HoldQueue();
  let probes = 0;
  queue.probeNow = () => probes++;
  const log: string[] = [];
  queue.enter(held(queue, log, 'a'), bounds);
  queue.enter(held(queue, log, 'b'), bounds);
  assert.equal(probes, 1);
  await waitUntil('a second probe asked', () => probes === 2);
  assert.deepEqual(log, [], 'no request woken but by a target back');
  queue.drain();
});

test('without health checks, the first waiting request scouts alone', async () => {
  const queue = new HoldQueue();
  const log: string[] = [];
  queue.enter(held(queue, log, 'a'), bounds);
  queue.enter(held(queue, log, 'b'), bounds);
  await waitUntil('a scout', () => log.length > 0);
  assert.deepEqual(log, ['wake a']);
  assert.equal(queue.size, 1);
  queue.drain();
});

test('a woken request keeps its place while it tries: a newcomer past max_requests is refused, it comes back in line; done or its wait running out frees the place', () => {
  const queue = new HoldQueue();
  const log: string[] = [];
  const one = { maxRequests: 1, maxBody: 100 };
  const a = { ...held(queue, log, 'a', 60), until: performance.now() + 60_000 };
  assert.equal(queue.enter(a, one), undefined);
  queue.targetBack();
  assert.equal(queue.size, 0);
  assert.equal(queue.enter(held(queue, log, 'newcomer'), one), 'max_requests');
  assert.equal(queue.enter(held(queue, log, 'heavy', 50), { maxRequests: 2, maxBody: 100 }), 'max_body');
  assert.equal(queue.enter(a, one), undefined, 'its own place again');
  queue.targetBack();
  queue.done(a.seq);
  assert.equal(queue.enter(held(queue, log, 'after done'), one), undefined);
  queue.targetBack();
  const b = { ...held(queue, log, 'b'), until: performance.now() - 1 };
  assert.equal(queue.enter(b, { maxRequests: 2, maxBody: 100 }), undefined);
  queue.targetBack();
  assert.equal(
    queue.enter(held(queue, log, 'after run out'), one),
    undefined,
    'a wait run out keeps nothing',
  );
});
