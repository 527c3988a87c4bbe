/**
 * The request parser's verdict on a refused head is the same however its bytes are split into
 * reads: whole, cut once anywhere, or a byte a read. Each case here was once answered one way
 * in one read and another when cut (a method past any known, a target past uri_length, a
 * space first: refused as they come, named otherwise whole).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestParser } from '../../../src/core/http1/request-parser.ts';

const LIMITS = { headerSize: 256, uriLength: 40 };

/** The status the parser refuses `bytes` with when fed in reads ending at `cuts`, else ok / incomplete. */
function verdict(bytes: Buffer, cuts: readonly number[]): string {
  let complete = false;
  const parser = new RequestParser(
    { onHead: () => {}, onBody: () => {}, onComplete: () => (complete = true) },
    LIMITS,
  );
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const error = parser.execute(bytes.subarray(from, to));
    if (error !== undefined) return String(error.status);
    if (complete) return 'ok';
    from = to;
  }
  return 'incomplete';
}

const CASES: ReadonlyArray<[string, string]> = [
  ['501', 'GETContent-Length: 3 /a HTTP/1.1\r\nHost: a\r\n\r\nabc'],
  ['501', 'SSH-2.0-OpenSSH_9\r\n'],
  ['501', 'FOOBARBAZQUX\r\n\r\n'],
  ['501', 'FOOBARBAZQUX/'],
  ['501', 'FOOBARBAZQUX / HTTP/2.0\r\n\r\n'],
  ['501', 'TTTTTTTTTTTTTTTTTTTT\r\nGET\r\n\r\n'],
  ['414', `get ${'x'.repeat(45)}http://a\r\n\r\n`],
  ['400', ` ${'x'.repeat(45)}\r\n\r\n`],
  ['400', 'G(E)T / HTTP/1.1\r\n\r\n'],
  ['505', 'FOO / HTTP/2.0\r\n\r\n'],
];

for (const [status, text] of CASES)
  test(`${JSON.stringify(text.slice(0, 40))}: ${status} in one read, cut anywhere, and a byte a read`, () => {
    const bytes = Buffer.from(text, 'latin1');
    assert.equal(verdict(bytes, []), status);
    for (let cut = 1; cut < bytes.length; cut++) assert.equal(verdict(bytes, [cut]), status, `cut at ${cut}`);
    const everyByte = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    assert.equal(verdict(bytes, everyByte), status, 'a byte a read');
  });
