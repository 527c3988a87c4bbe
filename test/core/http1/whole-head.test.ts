/**
 * A head that comes whole in one read is found in the text of the read's first bytes, as many
 * as the parser's last head had and a margin (src/core/http1/section-bytes.ts's WholeHead):
 * whatever its length against that window, and whatever follows it, it is read the same.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerParser } from '../../../src/core/http1/answer-parser.ts';
import type { AnswerHead } from '../../../src/core/http1/parsed-answer.ts';

/** A 200 with `fields` fields of 40-byte values before its Content-Length, and its body. */
function answer(fields: number, body: string): Buffer {
  let head = 'HTTP/1.1 200 OK\r\n';
  for (let i = 0; i < fields; i++) head += `x-field-${i}: ${'v'.repeat(40)}\r\n`;
  return Buffer.from(`${head}content-length: ${body.length}\r\n\r\n${body}`, 'latin1');
}

test('heads shorter and longer than the window, one after the other on one parser, each with its body in the read', () => {
  const heads: AnswerHead[] = [];
  const seen = { body: '' };
  const parser = new AnswerParser(
    {
      onHead: (head) => {
        heads.push(head);
      },
      onBody: (chunk) => {
        seen.body += chunk.toString('latin1');
      },
      onComplete: () => {},
    },
    16384,
  );
  // 0 fields: some 40 bytes; 12: past 512; 200: past the longest window; then back and forth.
  for (const fields of [0, 12, 12, 3, 30, 200, 200, 0, 11, 12, 13, 0]) {
    const text = `${'b'.repeat(fields * 7)}\r\n\r\nHTTP/1.1 200 OK\r\n`;
    seen.body = '';
    parser.expect(false);
    assert.equal(parser.execute(answer(fields, text)), undefined);
    assert.equal(parser.leftover, 0);
    const head = heads.pop();
    assert.equal(head?.headers.length, 2 * fields + 2, `${fields} fields`);
    assert.deepEqual(head?.headers.slice(-2), ['content-length', String(text.length)]);
    assert.equal(head?.contentLength, text.length);
    assert.equal(seen.body, text);
  }
});

test('what is not HTTP is named by the head’s bytes, not by what follows its empty line', () => {
  const failures: string[] = [];
  // JSON's first line alone is no document: with what follows, it would be named one.
  for (const after of ['', '"a": 1}']) {
    const parser = new AnswerParser({ onHead: () => {}, onBody: () => {}, onComplete: () => {} }, 16384);
    parser.expect(false);
    failures.push(parser.execute(Buffer.from(`{\r\n\r\n${after}`, 'latin1'))?.message ?? '');
  }
  assert.match(failures[0], /does not start with "HTTP\/"/);
  assert.equal(failures[1], failures[0]);
});
