/**
 * A head a client sends a byte at a time is checked as it comes (request-partial-head.ts), so
 * that a bad one is refused at once rather than at the header timeout. That check must look at
 * each byte a bounded number of times: one that looked again at the whole line at every read
 * made a target dripped byte by byte cost its length squared (a 256 KiB target under a raised
 * `limits.uri_length` took 32 s of the event loop, from one connection within header_timeout).
 *
 * Counted, not timed: the bytes the parser reads through Buffer's text and search methods. The
 * bound is a constant number of looks a byte (the few reads of a version, or of a method, still
 * look at the line whole); looked at again at every read, a 64 KiB head is some 65 000.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestParserLimits } from '../../../src/core/http1/parsed-request.ts';
import { RequestParser } from '../../../src/core/http1/request-parser.ts';

type Scan = (this: Buffer, ...args: never[]) => unknown;

/** Runs `work` with Buffer's latin1Slice, indexOf and lastIndexOf counting the bytes they cover. */
function bytesLookedAt(work: () => void): number {
  const proto = Buffer.prototype as unknown as Record<string, Scan>;
  const originals = {
    latin1Slice: proto.latin1Slice,
    indexOf: proto.indexOf,
    lastIndexOf: proto.lastIndexOf,
  };
  let looked = 0;
  proto.latin1Slice = function (this: Buffer, start = 0, end = this.length) {
    looked += end - start;
    return originals.latin1Slice.call(this, start as never, end as never);
  };
  proto.indexOf = function (this: Buffer, value: never, from: number = 0) {
    const found = originals.indexOf.call(this, value, from as never) as number;
    looked += (found === -1 ? this.length : found + 1) - Math.max(0, from);
    return found;
  };
  proto.lastIndexOf = function (this: Buffer, value: never, from?: number) {
    const found = originals.lastIndexOf.call(this, value, from as never) as number;
    looked += (from ?? this.length) - found;
    return found;
  };
  try {
    work();
  } finally {
    Object.assign(proto, originals);
  }
  return looked;
}

/** Feeds `head` to a new parser one byte a read; what it ended with. */
function drip(head: string, limits: RequestParserLimits): string {
  let result = 'pending';
  const parser = new RequestParser(
    { onHead: () => {}, onBody: () => {}, onComplete: () => (result = 'complete') },
    limits,
  );
  const bytes = Buffer.from(head, 'latin1');
  for (let i = 0; i < bytes.length; i++) {
    const error = parser.execute(bytes.subarray(i, i + 1));
    if (error !== undefined) return `${error.status} ${error.details}`;
  }
  return result;
}

const LIMITS: RequestParserLimits = { headerSize: 256 * 1024, uriLength: 128 * 1024 };

test('a long target dripped byte by byte is looked at a bounded number of times per byte', () => {
  const head = `GET /${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`;
  let result = '';
  const looked = bytesLookedAt(() => {
    result = drip(head, LIMITS);
  });
  assert.equal(result, 'complete');
  assert.ok(looked < 64 * head.length, `${looked} bytes looked at for a head of ${head.length}`);
});

test('a long field value dripped byte by byte is looked at a bounded number of times per byte', () => {
  const head = `GET / HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(64 * 1024)}\r\n\r\n`;
  let result = '';
  const looked = bytesLookedAt(() => {
    result = drip(head, LIMITS);
  });
  assert.equal(result, 'complete');
  assert.ok(looked < 64 * head.length, `${looked} bytes looked at for a head of ${head.length}`);
});

test('dripped, a target past the limit is still its 414 as soon as it is, and a bad version its 400', () => {
  const limits: RequestParserLimits = { headerSize: 4096, uriLength: 100 };
  assert.equal(
    drip(`GET /${'a'.repeat(200)}`, limits),
    '414 request target over the limit of 100 bytes (limits.uri_length)',
  );
  assert.equal(drip(`GET /${'a'.repeat(99)} HTTP/1.1\r\nHost: x\r\n\r\n`, limits), 'complete');
  assert.equal(
    drip('GET /a HTTX', limits),
    '400 malformed request (HPE_INVALID_VERSION: invalid HTTP version)',
  );
  assert.equal(
    drip('GET /a b HTTP/1.1', limits),
    '400 malformed request (HPE_INVALID_VERSION: invalid HTTP version)',
  );
  assert.equal(drip('GET\x00', limits), '400 malformed request (HPE_INVALID_METHOD: invalid method)');
  // A uri_length above header_size: the line outgrows the head first, and that is the limit named.
  assert.equal(
    drip(`GET /${'a'.repeat(200)}`, { headerSize: 100, uriLength: 1000 }),
    '414 request line longer than limits.header_size',
  );
});
