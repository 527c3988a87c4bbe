/**
 * A request body read whole counts against its connection's budget (an HTTP/2 connection's
 * streams share one): kept while the body is held, given back by every other outcome, once.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import { BufferBudget } from '../../../src/core/net/buffer-budget.ts';
import { type BodyRead, readBodyWhole } from '../../../src/proxy/forward/request-buffering.ts';

const LIMITS = {
  buffer: 1024 * 1024,
  body: 10 * 1024 * 1024,
  idleTimeout: 5_000,
  readTimeout: 5_000,
  minRate: 0,
};

function read(body: PassThrough, budget: BufferBudget) {
  let result: BodyRead | undefined;
  const cancel = readBodyWhole(
    body,
    true,
    LIMITS,
    (r) => {
      result = r;
    },
    budget,
  );
  return { cancel, result: () => result };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a body read whole stays counted (its exchange gives it back); one past the budget streams and gives back what it took', async () => {
  const budget = new BufferBudget(100);
  const first = new PassThrough();
  const a = read(first, budget);
  first.end(Buffer.alloc(60));
  await tick();
  assert.ok(a.result() !== undefined && 'whole' in (a.result() as object));
  assert.equal(budget.held, 60);

  const second = new PassThrough();
  const b = read(second, budget);
  second.write(Buffer.alloc(50));
  await tick();
  assert.deepEqual(b.result(), { over: true });
  assert.equal(budget.held, 60, 'what the second read took is given back');
  // The bytes read are back at the front of the stream, for the exchange to stream.
  assert.equal((second.read() as Buffer).length, 50);
});

test('a read cancelled, or failed, gives back what it took, once', async () => {
  const budget = new BufferBudget(1000);
  const body = new PassThrough();
  const r = read(body, budget);
  body.write(Buffer.alloc(30));
  await tick();
  assert.equal(budget.held, 30);
  r.cancel();
  r.cancel();
  assert.equal(budget.held, 0);

  const broken = new PassThrough();
  const f = read(broken, budget);
  broken.write(Buffer.alloc(40));
  await tick();
  broken.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
  await tick();
  assert.ok(f.result() instanceof Failure);
  assert.equal(budget.held, 0);
  f.cancel();
  assert.equal(budget.held, 0);
});
