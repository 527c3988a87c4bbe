/** A Failure is a verdict about a peer: it carries no stack of Candor's own; its cause keeps its own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';

test('a failure captures no stack frames, its cause keeps its own, and the stack limit is left as it was', () => {
  const limit = Error.stackTraceLimit;
  const cause = new Error('connect ECONNREFUSED');
  const failure = new Failure('connection_refused', 'connect ECONNREFUSED 127.0.0.1:1', { cause });
  assert.equal(failure.stack, 'Failure: connection_refused: connect ECONNREFUSED 127.0.0.1:1');
  assert.match(String(cause.stack), /\n\s+at /);
  assert.equal(failure.cause, cause);
  assert.equal(Error.stackTraceLimit, limit);
  assert.ok(failure instanceof Error);
});
