/**
 * candor/client, a body that breaks after its head came, against real node:net servers: reset or
 * closed part way (a Content-Length not reached, a chunked body without its last chunk) is
 * `http_response_incomplete`, a chunk framing that is not HTTP is garbage, as the gateway's own
 * connections call each. A read of such a body rejects with an UpstreamError
 * UPSTREAM_BODY_INCOMPLETE (fetch's TypeError "terminated" as its Failure's cause), never with a
 * bare TypeError; the caller's own abort stays the caller's reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { Failure } from '../../../src/core/failure/failure.ts';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import {
  startCloseDelimited,
  startCloseDelimitedThenReset,
  startCloseMidBody,
  startResetMidBody,
} from '../../../src/kits/fault-kit/reset-faults.ts';

/** `promise`'s value or rejection, or 'pending' after `ms`: a read that never ends fails the test, not hangs it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | unknown> {
  return Promise.race([promise.catch((error: unknown) => error), sleep(ms, 'pending' as const)]);
}

/** A 200 whose head is whole and whose body then turns to `rest` (raw bytes), then `end`. */
function startBrokenChunks(rest: string): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n`);
    // Apart: the head and the first chunk are given before the bad bytes come.
    await sleep(20);
    await connection.write(rest);
  });
}

/** A 200 under Transfer-Encoding "gzip, chunked" whose one chunk is `body`, then the last chunk. */
function startGzipChunked(body: Buffer): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    const head = `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${body.length.toString(16)}\r\n`;
    await connection.write(Buffer.concat([Buffer.from(head), body, Buffer.from('\r\n0\r\n\r\n')]));
  });
}

const gzipped = gzipSync('a body under a transfer coding\n'.repeat(40));

const cases: [string, () => Promise<Fault>, string, RegExp][] = [
  [
    'reset (RST) after 100 of its Content-Length of 1000 bytes',
    () => startResetMidBody(),
    'http_response_incomplete',
    /response body cut short: connection reset \(ECONNRESET\) before the body's end \(100 of 1000 bytes\) after [\d.]+ ms\)/,
  ],
  // A clean FIN is not a connection lost: the upstream closed it before the body's end (the
  // gateway's own words keep a close and a reset apart, connection-ended.ts). Without keep-alive
  // (Connection: close) undici hides a reset behind a close: the client still tells them apart.
  [
    'closed (FIN) after 100 of its Content-Length of 1000 bytes',
    () => startCloseMidBody(),
    'http_response_incomplete',
    /response body cut short: the upstream closed the connection before the body's end \(100 of 1000 bytes\) after [\d.]+ ms\)/,
  ],
  [
    'closed (FIN) after 100 of its Content-Length of 1000 bytes, with Connection: close',
    () => startCloseMidBody({ connectionClose: true }),
    'http_response_incomplete',
    /response body cut short: the upstream closed the connection before the body's end \(100 of 1000 bytes\) after [\d.]+ ms\)/,
  ],
  [
    'reset (RST) after 100 of its Content-Length of 1000 bytes, with Connection: close',
    () => startResetMidBody({ connectionClose: true }),
    'http_response_incomplete',
    /response body cut short: connection reset \(ECONNRESET\) before the body's end \(100 of 1000 bytes\) after [\d.]+ ms\)/,
  ],
  [
    'chunked, closed (FIN) without its last chunk',
    () => startCloseMidBody({ framing: 'chunked' }),
    'http_response_incomplete',
    /response body cut short: the upstream closed the connection before the body's end \(100 bytes, no last chunk\) after [\d.]+ ms\)/,
  ],
  [
    'chunked, closed (FIN) without its last chunk, with Connection: close',
    () => startCloseMidBody({ framing: 'chunked', connectionClose: true }),
    'http_response_incomplete',
    /response body cut short: the upstream closed the connection before the body's end \(100 bytes, no last chunk\) after [\d.]+ ms\)/,
  ],
  [
    'chunked, reset (RST) without its last chunk, with Connection: close',
    () => startResetMidBody({ framing: 'chunked', connectionClose: true }),
    'http_response_incomplete',
    /response body cut short: connection reset \(ECONNRESET\) before the body's end \(100 bytes, no last chunk\) after [\d.]+ ms\)/,
  ],
  [
    'chunked, reset (RST) without its last chunk',
    () => startResetMidBody({ framing: 'chunked' }),
    'http_response_incomplete',
    /response body cut short: connection reset \(ECONNRESET\) before the body's end \(100 bytes, no last chunk\) after [\d.]+ ms\)/,
  ],
  [
    'chunked, then a chunk size that is not hex',
    () => startBrokenChunks('zz\r\nxx\r\n'),
    'http_response_transfer_coding',
    /Invalid character in chunk size/,
  ],
  // The gateway's chunk decoder calls a bare LF ending a chunk-size line (its size, or an
  // extension after it) a protocol error, one after chunk data a transfer coding's (chunked-decoder.ts).
  [
    'chunked, then a chunk size ended by a bare LF',
    () => startBrokenChunks('5\nabcde\r\n0\r\n\r\n'),
    'http_protocol_error',
    /Missing expected CR after chunk size/,
  ],
  [
    'chunked, then a chunk extension ended by a bare LF',
    () => startBrokenChunks('5;a=b\nabcde\r\n0\r\n\r\n'),
    'http_protocol_error',
    /Missing expected CR after chunk extension value/,
  ],
  [
    'chunked, then chunk data ended by a bare LF',
    () => startBrokenChunks('5\r\nabcde\n0\r\n\r\n'),
    'http_response_transfer_coding',
    /Missing expected CR after chunk data/,
  ],
  // The gateway undoes "gzip, chunked" and calls a body that does not undo garbage (transfer-decoder.ts).
  [
    'under Transfer-Encoding "gzip, chunked" that is not gzip',
    () => startGzipChunked(Buffer.from('not gzip at all')),
    'http_response_transfer_coding',
    /invalid gzip transfer coding: /,
  ],
  [
    'under Transfer-Encoding "gzip, chunked" reset (RST) part way: a cut, not the coding',
    () =>
      startRawFault(async (connection) => {
        await readRequest(connection);
        const head = `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${gzipped.length.toString(16)}\r\n`;
        await connection.write(Buffer.concat([Buffer.from(head), gzipped.subarray(0, 20)]));
        await connection.reset();
      }),
    'http_response_incomplete',
    /response body cut short: connection reset \(ECONNRESET\)/,
  ],
  [
    'under Transfer-Encoding "gzip, chunked" with bytes after the gzip stream',
    () => startGzipChunked(Buffer.concat([gzipped, Buffer.from('junk')])),
    'http_response_transfer_coding',
    /invalid gzip transfer coding: /,
  ],
];

for (const [what, start, type, detail] of cases) {
  test(`a body ${what}: its read rejects with UPSTREAM_BODY_INCOMPLETE, ${type}`, async () => {
    const origin = await start();
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
      const res = await api(`${origin.url}/download`);
      assert.equal(res.status, 200);
      const error = await within(res.text(), 5_000);
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
      assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
      assert.equal(error.type, type);
      assert.match(
        error.message,
        /^GET http:\/\/127\.0\.0\.1:\d+\/download: the response came, but its body /,
      );
      assert.match(error.message, detail);
      assert.doesNotMatch(error.message, /connection lost/);
      assert.ok(error.cause instanceof Failure, 'the Failure is its cause');
      assert.equal(error.cause.type, type);
      // fetch's own error, kept under the verdict, with undici's under it.
      assert.ok(error.cause.cause instanceof TypeError);
      assert.equal(error.cause.cause.message, 'terminated');
      assert.ok(error.cause.cause.cause instanceof Error);
      // Nothing is sent again: the caller has the head, and read part of the body.
      assert.deepEqual(reports, []);
      assert.equal(origin.received.length, 1);
    } finally {
      await origin.close();
    }
  });
}

// RFC 9112 §6.3 item 8: a body with neither Content-Length nor chunked ends with the connection.
// A FIN ends it whole; an RST may have cut it anywhere, and undici (without keep-alive) takes
// the reset as the end of the message: the read resolved as if the body were complete.
for (const version of ['1.0', '1.1'] as const) {
  test(`a close-delimited body (HTTP/${version}) ended by a reset, not a FIN: its read rejects with UPSTREAM_BODY_INCOMPLETE`, async () => {
    const origin = await startCloseDelimitedThenReset({ version });
    try {
      const reports: AttemptReport[] = [];
      const res = await createFetch({ onAttemptFailed: (r) => reports.push(r) })(`${origin.url}/download`);
      assert.equal(res.status, 200);
      const error = await within(res.text(), 5_000);
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
      assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
      assert.equal(error.type, 'http_response_incomplete');
      assert.match(
        error.message,
        /response body cut short: connection reset \(ECONNRESET\) where only the connection's close ends the body \(no Content-Length, not chunked\): it may be cut anywhere, after [\d.]+ ms, after 1000 bytes of the body/,
      );
      assert.ok(error.cause instanceof Failure);
      assert.equal(error.cause.stage, 'head_received');
      assert.deepEqual(reports, []);
      assert.equal(origin.received.length, 1);
    } finally {
      await origin.close();
    }
  });

  test(`a close-delimited body (HTTP/${version}) ended by a FIN is whole`, async () => {
    const origin = await startCloseDelimited({ version, body: 'all of it' });
    try {
      const res = await createFetch()(`${origin.url}/`);
      assert.equal(await within(res.text(), 5_000), 'all of it');
    } finally {
      await origin.close();
    }
  });
}

test('a body cut mid-way read by its stream: the read rejects with the same UpstreamError', async () => {
  const origin = await startResetMidBody({ sentBytes: 10 });
  try {
    const res = await createFetch()(`${origin.url}/`);
    const read = async () => {
      let bytes = 0;
      for await (const chunk of res.body as ReadableStream<Uint8Array>) bytes += chunk.byteLength;
      return bytes;
    };
    const error = await within(read(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    assert.equal(error.type, 'http_response_incomplete');
  } finally {
    await origin.close();
  }
});

test('a body cut mid-way under bodyTimeout: told as cut, not as stalled', async () => {
  const origin = await startResetMidBody();
  try {
    const res = await createFetch({ bodyTimeout: 60_000 })(`${origin.url}/`);
    const error = await within(res.arrayBuffer(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    assert.equal(error.type, 'http_response_incomplete');
  } finally {
    await origin.close();
  }
});

test("the caller's abort while a body is read rejects with the caller's reason, as fetch's", async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
  });
  try {
    const caller = new AbortController();
    const res = await createFetch()(`${origin.url}/`, { signal: caller.signal });
    const reading = within(res.text(), 5_000);
    const reason = new Error('the caller left');
    caller.abort(reason);
    assert.equal(await reading, reason);
  } finally {
    await origin.close();
  }
});

test('a whole body, chunked or not, is read as it came', async () => {
  const origin = await startRawFault(async (connection) => {
    for (;;) {
      const request = await readRequest(connection);
      await connection.write(
        request.path === '/a'
          ? 'HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nwhole.'
          : 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      );
    }
  });
  try {
    const api = createFetch();
    assert.equal(await within((await api(`${origin.url}/a`)).text(), 5_000), 'whole.');
    assert.equal(await within((await api(`${origin.url}/b`)).text(), 5_000), 'abc');
  } finally {
    await origin.close();
  }
});

/**
 * An Agent of the undici that runs the global fetch, with its own `bodyTimeout`. undici keeps its
 * global dispatcher under this symbol for other copies of itself to find (its setGlobalDispatcher),
 * the one way to reach Node's own without a dependency.
 */
async function dispatcherWithBodyTimeout(ms: number): Promise<object> {
  await fetch('data:,').then((res) => res.text()); // the global dispatcher is made at the first fetch
  const global = (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')];
  const Agent = (global as { constructor: new (options: { bodyTimeout: number }) => object }).constructor;
  return new Agent({ bodyTimeout: ms });
}

test("a body the fetch dispatcher's own bodyTimeout ends: UPSTREAM_BODY_TIMEOUT, connection_read_timeout (a stall, not a cut)", async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
  });
  const dispatcher = await dispatcherWithBodyTimeout(100);
  try {
    const api = createFetch({
      fetch: (input, init) => fetch(input, { ...init, dispatcher } as RequestInit),
    });
    const res = await api(`${origin.url}/`);
    const error = await within(res.text(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_TIMEOUT');
    assert.equal(error.type, 'connection_read_timeout');
    assert.match(error.message, /\(UND_ERR_BODY_TIMEOUT\).*, after 10 bytes of the body/);
  } finally {
    await (dispatcher as { close(): Promise<void> }).close();
    await origin.close();
  }
});

test('a body cut whose answer carried no x-request-id names none: not the id of a failed attempt before it', async () => {
  let connections = 0;
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    if (++connections === 1) {
      await connection.end(
        'HTTP/1.1 503 Service Unavailable\r\nx-request-id: first-attempt\r\nretry-after: 0\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
      );
      return;
    }
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n' + 'x'.repeat(100));
    await connection.reset();
  });
  try {
    const res = await createFetch()(`${origin.url}/`);
    assert.equal(res.status, 200);
    const error = await within(res.text(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    assert.equal(error.attempts[0].requestId, 'first-attempt');
    assert.equal(error.requestId, undefined);
    assert.doesNotMatch(error.message, /request id/);
  } finally {
    await origin.close();
  }
});
