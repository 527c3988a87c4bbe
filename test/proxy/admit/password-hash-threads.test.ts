/**
 * How many password hash threads a worker runs: half the cores split among the gateway's
 * workers, at least one each (the primary says how many workers there are in CANDOR_WORKERS).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WORKERS_ENV, workersOfThisGateway } from '../../../src/core/limits/worker-share.ts';
import { hashThreadsFor } from '../../../src/proxy/admit/password-hash-threads.ts';

test('a worker runs half the cores split among the workers, at least one thread', () => {
  assert.equal(hashThreadsFor(2, 1), 1);
  assert.equal(hashThreadsFor(2, 2), 1);
  assert.equal(hashThreadsFor(8, 1), 4);
  assert.equal(hashThreadsFor(8, 2), 2);
  assert.equal(hashThreadsFor(8, 8), 1);
  assert.equal(hashThreadsFor(1, 1), 1);
});

test("the gateway's worker count is the primary's word, 1 in-process or when it is not a count", () => {
  assert.equal(workersOfThisGateway({ [WORKERS_ENV]: '4' }), 4);
  assert.equal(workersOfThisGateway({}), 1);
  assert.equal(workersOfThisGateway({ [WORKERS_ENV]: 'x' }), 1);
  assert.equal(workersOfThisGateway({ [WORKERS_ENV]: '0' }), 1);
});
