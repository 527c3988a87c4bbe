/**
 * candor/client, an origin whose answer ends or turns strange before its head is whole, against
 * real node:net servers: each told by the gateway's table in the gateway's words, never a bare
 * error of the client's own, never "connection lost" for a connection nobody lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startCloseBeforeHead } from '../../../src/kits/fault-kit/reset-faults.ts';

/** `promise`'s value or rejection, or 'pending' after `ms`: a call that never ends fails the test, not hangs it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | unknown> {
  return Promise.race([promise.catch((error: unknown) => error), sleep(ms, 'pending' as const)]);
}

/** An origin that answers every request with `bytes`, and keeps the connection open. */
function answering(bytes: string): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(bytes);
  });
}

test('a clean close (FIN) before any byte of an answer: connection_terminated, worded as the close it was', async () => {
  const origin = await startCloseBeforeHead();
  try {
    const api = createFetch({ attempts: 1 });
    const error = await within(api(`${origin.url}/`), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(error.type, 'connection_terminated');
    assert.match(
      error.message,
      /connection_terminated: connection closed by the upstream before the response head was whole after [\d.]+ ms/,
    );
    assert.doesNotMatch(error.message, /connection lost/);
  } finally {
    await origin.close();
  }
});

test('a 100 Continue the request did not ask for (fetch cannot read past it): said so, and not sent again to meet it again', async () => {
  const origin = await answering(
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  );
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
    const error = await within(api(`${origin.url}/`), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(error.type, 'http_protocol_error');
    assert.match(
      error.message,
      /a 100 Continue no Expect asked for, which fetch \(undici\) does not read past \(UND_ERR_SOCKET\)/,
    );
    assert.deepEqual(
      reports.map((r) => [r.type, r.retry]),
      [['http_protocol_error', false]],
    );
    assert.equal(origin.received.length, 1);
  } finally {
    await origin.close();
  }
});

for (const status of ['600', '999']) {
  test(`a status code ${status}, past 599: the garbage the gateway calls it, never a RangeError of the client's`, async () => {
    const origin = await answering(`HTTP/1.1 ${status} Odd\r\ncontent-length: 2\r\n\r\nok`);
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
      const error = await within(api(`${origin.url}/`), 5_000);
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
      assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
      assert.equal(error.type, 'http_protocol_error');
      assert.match(error.message, new RegExp(`http_protocol_error: status code ${status} out of range`));
      assert.deepEqual(
        reports.map((r) => [r.type, r.retry]),
        [['http_protocol_error', false]],
      );
      assert.equal(origin.received.length, 1);
    } finally {
      await origin.close();
    }
  });
}

// RFC 9112 §2.3: an HTTP/1 connection carries HTTP/1.x messages. A status line that names
// another major version (HTTP/2 is framed in binary, never in text; HTTP/0.9 had no status line)
// is no HTTP/1 answer: refused as the gateway's parser refuses it (status-line.ts), its
// connection not used again. fetch (undici) took `HTTP/2.0 200` and `HTTP/0.9 200` as 200s.
for (const version of ['2.0', '0.9']) {
  test(`a status line "HTTP/${version} 200 OK" from an HTTP/1 peer: http_protocol_error, never a 200`, async () => {
    // Every answer on a connection after its first is HTTP/1.1: one used again would be read.
    const origin = await startRawFault(async (connection) => {
      for (let line = `HTTP/${version} 200 OK`; ; line = 'HTTP/1.1 200 OK') {
        await readRequest(connection);
        await connection.write(`${line}\r\ncontent-length: 2\r\n\r\nok`);
      }
    });
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
      const error = await within(api(`${origin.url}/`), 5_000);
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
      assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
      assert.equal(error.type, 'http_protocol_error');
      assert.match(
        error.message,
        new RegExp(`http_protocol_error: unsupported HTTP version "HTTP/${version.replace('.', '\\.')}"`),
      );
      assert.deepEqual(
        reports.map((r) => [r.type, r.retry]),
        [['http_protocol_error', false]],
      );
      assert.equal(origin.received.length, 1);
      // Its connection is not used again (undici keeps alive no answer of a version but 1.1): the next call opens another.
      await within(api(`${origin.url}/again`), 5_000);
      assert.equal(origin.received.length, 2);
      assert.equal(origin.connections, 2);
    } finally {
      await origin.close();
    }
  });
}

test('a status line "HTTP/1.0 200 OK" is an HTTP/1 answer, read as it came', async () => {
  const origin = await answering('HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok');
  try {
    const res = await createFetch()(`${origin.url}/`);
    assert.equal(res.status, 200);
    assert.equal(await within(res.text(), 5_000), 'ok');
  } finally {
    await origin.close();
  }
});
