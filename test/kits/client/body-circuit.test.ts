/**
 * candor/client, a body that fails after its head came, for the origin's circuit: a failed call,
 * as a failed head is (a cut, a stall, garbage), counted once per call; a body read whole is the
 * call's success; a body the caller itself cancelled says nothing about the origin. As the
 * gateway's own circuits count a body (report-outcome.ts): an origin that cuts every body short
 * after a 200 head opens the circuit, where each head's success wiped the count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startResetMidBody } from '../../../src/kits/fault-kit/reset-faults.ts';

/** `promise`'s value or rejection, or 'pending' after `ms`: a read that never ends fails the test, not hangs it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | unknown> {
  return Promise.race([promise.catch((error: unknown) => error), sleep(ms, 'pending' as const)]);
}

/** A call that must fail fast on the open circuit. */
async function circuitOpen(call: Promise<Response>): Promise<void> {
  const error = await within(call, 5_000);
  assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
  assert.equal(error.code, 'UPSTREAM_CIRCUIT_OPEN');
}

test('a 200 whose body is reset part way is a failed call: two in a row open a circuit of 2, and the third sends nothing', async () => {
  const origin = await startResetMidBody();
  try {
    const api = createFetch({ attempts: 1, circuitBreaker: { failures: 2, openTime: 60_000 } });
    for (let call = 1; call <= 2; call++) {
      // The first cut counts once, not twice: the second call still goes.
      const res = await api(`${origin.url}/download`);
      assert.equal(res.status, 200);
      const error = await within(res.text(), 5_000);
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
      assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    }
    await circuitOpen(api(`${origin.url}/download`));
    assert.equal(origin.received.length, 2);
  } finally {
    await origin.close();
  }
});

test('a body that stalls past bodyTimeout is a failed call for the circuit', async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
  });
  try {
    const api = createFetch({
      attempts: 1,
      bodyTimeout: 50,
      circuitBreaker: { failures: 1, openTime: 60_000 },
    });
    const res = await api(`${origin.url}/`);
    const error = await within(res.text(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_TIMEOUT');
    await circuitOpen(api(`${origin.url}/`));
    assert.equal(origin.received.length, 1);
  } finally {
    await origin.close();
  }
});

test('a body read whole ends a run of failures: cut, whole, cut leaves a circuit of 2 closed', async () => {
  const origin = await startRawFault(async (connection) => {
    const request = await readRequest(connection);
    if (request.path === '/whole') {
      await connection.end('HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nwhole.');
      return;
    }
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789');
    await connection.reset();
  });
  try {
    const api = createFetch({ attempts: 1, circuitBreaker: { failures: 2, openTime: 60_000 } });
    const cut = async () => {
      const error = await within((await api(`${origin.url}/cut`)).text(), 5_000);
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    };
    await cut();
    assert.equal(await within((await api(`${origin.url}/whole`)).text(), 5_000), 'whole.');
    await cut();
    assert.equal((await api(`${origin.url}/whole`)).status, 200, 'the circuit is still closed');
    assert.equal(origin.received.length, 4);
  } finally {
    await origin.close();
  }
});

test('a body the caller cancelled, or stopped reading by its abort, says nothing of the origin: the circuit stays closed', async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
  });
  try {
    const api = createFetch({ attempts: 1, circuitBreaker: { failures: 1, openTime: 60_000 } });
    const first = await api(`${origin.url}/`);
    await first.body?.cancel();
    const caller = new AbortController();
    const second = await api(`${origin.url}/`, { signal: caller.signal });
    const reading = within(second.text(), 5_000);
    caller.abort(new Error('the caller left'));
    assert.equal(((await reading) as Error).message, 'the caller left');
    const third = await api(`${origin.url}/`);
    assert.equal(third.status, 200);
    await third.body?.cancel();
    assert.equal(origin.received.length, 3);
  } finally {
    await origin.close();
  }
});
