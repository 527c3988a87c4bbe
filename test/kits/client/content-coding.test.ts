/**
 * candor/client, a body under a Content-Encoding (gzip, deflate, br) that fetch undoes, against
 * real node:net servers. fetch (undici) undoes a coding leniently, as a browser does: a gzip
 * stream that ends before its end (cut, or without its trailer) in a message whose framing is
 * whole read as a short body, or an empty one, with nothing said. The client checks the coding's
 * end as the bytes came and rejects the read: UPSTREAM_BODY_INCOMPLETE, the garbage the gateway
 * calls a body that does not decode as its Content-Encoding says (`http_protocol_error`). A
 * message cut short under a coding is the cut it is, its bytes counted as they came on the wire.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { Failure } from '../../../src/core/failure/failure.ts';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';

/** `promise`'s value or rejection, or 'pending' after `ms`: a read that never ends fails the test, not hangs it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | unknown> {
  return Promise.race([promise.catch((error: unknown) => error), sleep(ms, 'pending' as const)]);
}

const text = 'a body under a content coding\n'.repeat(200);
const coded = { gzip: gzipSync(text), deflate: deflateSync(text), br: brotliCompressSync(text) };

/** A 200 under `coding` whose body is `body`, framed whole: by its Content-Length, or chunked with its last chunk. */
function startCoded(coding: string, body: Buffer, framing: 'length' | 'chunked' = 'length'): Promise<Fault> {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    const head =
      framing === 'length'
        ? `HTTP/1.1 200 OK\r\ncontent-encoding: ${coding}\r\ncontent-length: ${body.length}\r\n\r\n`
        : `HTTP/1.1 200 OK\r\ncontent-encoding: ${coding}\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`;
    const tail = framing === 'length' ? '' : '\r\n0\r\n\r\n';
    await connection.write(Buffer.concat([Buffer.from(head), body, Buffer.from(tail)]));
  });
}

const half = (bytes: Buffer) => bytes.subarray(0, Math.floor(bytes.length / 2));

const cut: [string, () => Promise<Fault>, RegExp][] = [
  [
    'a gzip stream cut in half, its Content-Length whole',
    () => startCoded('gzip', half(coded.gzip)),
    /its body's gzip coding ends before its end \(unexpected end of file\): the message came whole, its content did not/,
  ],
  [
    'a gzip stream cut in half, chunked with its last chunk',
    () => startCoded('gzip', half(coded.gzip), 'chunked'),
    /its body's gzip coding ends before its end/,
  ],
  [
    'a gzip stream without its trailer (CRC and length)',
    () => startCoded('gzip', coded.gzip.subarray(0, coded.gzip.length - 8)),
    /its body's gzip coding ends before its end/,
  ],
  [
    'an x-gzip stream cut in half',
    () => startCoded('x-gzip', half(coded.gzip)),
    /its body's x-gzip coding ends before its end/,
  ],
  [
    'a deflate stream cut in half',
    () => startCoded('deflate', half(coded.deflate)),
    /its body's deflate coding ends before its end/,
  ],
  [
    'a br stream cut in half',
    () => startCoded('br', half(coded.br)),
    /its body's br coding ends before its end/,
  ],
];

for (const [what, start, detail] of cut) {
  test(`${what}: the read rejects with UPSTREAM_BODY_INCOMPLETE, http_protocol_error, never a short body`, async () => {
    const origin = await start();
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
      const res = await api(`${origin.url}/download`);
      assert.equal(res.status, 200);
      const error = await within(res.text(), 5_000);
      assert.ok(
        error instanceof UpstreamError,
        `expected an UpstreamError, got ${String(error).slice(0, 80)}`,
      );
      assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
      assert.equal(error.type, 'http_protocol_error');
      assert.match(error.message, detail);
      assert.ok(error.cause instanceof Failure);
      assert.equal(error.cause.stage, 'head_received');
      assert.deepEqual(reports, []);
      assert.equal(origin.received.length, 1);
    } finally {
      await origin.close();
    }
  });
}

for (const coding of ['gzip', 'deflate', 'br'] as const) {
  test(`a whole ${coding} body is read as it was before its coding`, async () => {
    const origin = await startCoded(coding, coded[coding], 'chunked');
    try {
      const res = await createFetch()(`${origin.url}/`);
      assert.equal(await within(res.text(), 5_000), text);
    } finally {
      await origin.close();
    }
  });
}

test('two gzip members one after the other (RFC 1952 §2.2) are one whole body', async () => {
  const origin = await startCoded('gzip', Buffer.concat([gzipSync('first, '), gzipSync('second')]));
  try {
    const res = await createFetch()(`${origin.url}/`);
    assert.equal(await within(res.text(), 5_000), 'first, second');
  } finally {
    await origin.close();
  }
});

test('a gzip body whose connection closes before its Content-Length: the cut, its bytes counted as they came', async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    const head = `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${coded.gzip.length}\r\n\r\n`;
    await connection.write(Buffer.concat([Buffer.from(head), coded.gzip.subarray(0, 40)]));
    await connection.end();
  });
  try {
    const res = await createFetch()(`${origin.url}/`);
    const error = await within(res.text(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error).slice(0, 80)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    assert.equal(error.type, 'http_response_incomplete');
    assert.match(
      error.message,
      new RegExp(
        `the upstream closed the connection before the body's end \\(40 of ${coded.gzip.length} bytes, \\d+ decoded\\)`,
      ),
    );
  } finally {
    await origin.close();
  }
});

// RFC 9112 §6.3 item 8: a body with neither Content-Length nor chunked ends with the connection,
// so a coding that ends before its end there is what a close before the body's end looks like:
// the cut it is, never a message "whole" whose content was not.
test('a gzip stream cut in half in a body only the close ends: a cut, http_response_incomplete', async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    const head = 'HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\nconnection: close\r\n\r\n';
    await connection.end(Buffer.concat([Buffer.from(head), half(coded.gzip)]));
  });
  try {
    const res = await createFetch()(`${origin.url}/`);
    const error = await within(res.text(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error).slice(0, 80)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    assert.equal(error.type, 'http_response_incomplete');
    assert.match(
      error.message,
      new RegExp(
        `response body cut short: its gzip coding ends before its end \\(unexpected end of file\\) where only the connection's close ends the body \\(no Content-Length, not chunked\\): the connection closed before it, after [\\d.]+ ms, ${half(coded.gzip).length} bytes, \\d+ decoded\\)`,
      ),
    );
  } finally {
    await origin.close();
  }
});

test('a whole gzip body whose connection closes while fetch still decodes it is told as fetch cutting it, not as the upstream, and opens no circuit', async () => {
  // 256 MiB of zeros in some 250 KiB of gzip, the connection closed (FIN) right after its last
  // byte. undici's parser, held back by a decoder that is behind, takes the FIN for a body cut
  // short ("other side closed") though every byte its Content-Length announced came.
  const bomb = gzipSync(Buffer.alloc(256 << 20));
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end(
      Buffer.concat([
        Buffer.from(`HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${bomb.length}\r\n\r\n`),
        bomb,
      ]),
    );
  });
  try {
    const api = createFetch({ attempts: 1, circuitBreaker: { failures: 1, openTime: 60_000 } });
    const res = await api(`${origin.url}/download`);
    let decoded = 0;
    let error: unknown;
    try {
      for await (const chunk of res.body ?? []) decoded += chunk.byteLength;
    } catch (err) {
      error = err;
    }
    // A fetch that reads it whole is right too; one that does not must say what happened.
    if (error !== undefined) {
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
      assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
      assert.doesNotMatch(error.message, /closed the connection before the body's end/);
      assert.match(
        error.message,
        new RegExp(
          `every byte of its Content-Length came \\(${bomb.length} of ${bomb.length} bytes, ${decoded} decoded\\)`,
        ),
      );
    } else assert.equal(decoded, 256 << 20);
    // The upstream sent all it announced: the circuit (of one failure) stays closed.
    const again = await api(`${origin.url}/download`);
    assert.equal(again.status, 200);
    await again.body?.cancel();
    assert.equal(origin.received.length, 2);
  } finally {
    await origin.close();
  }
});
