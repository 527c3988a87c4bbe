/**
 * The one field-line reader both parsers use (field-lines.ts): what it makes of a section, and
 * that a request's and a response's reading differ on one rule only, whitespace before the
 * colon (RFC 9112 §5.1: a server refuses it, a proxy removes it from a response). A head that
 * comes whole in one read is read up to its end in the text of the read's first bytes, as many
 * as the parser's last head had and a margin (section-bytes.ts's WholeHead): whatever its length
 * against that window, and whatever follows it, it is read the same. A section equal to the last
 * one a kind of parser read is read as that one was (field-section-memo.ts): the same fields, in a
 * list of the reader's own, and never for a section that differs from it in any byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerParser } from '../../../src/core/http1/answer-parser.ts';
import { checkFieldLines, MAX_FIELDS, readFieldLines } from '../../../src/core/http1/field-lines.ts';
import type { AnswerHead } from '../../../src/core/http1/parsed-answer.ts';
import { RequestParser } from '../../../src/core/http1/request-parser.ts';

const read = (text: string, wsBeforeColon: boolean) => {
  const fields = readFieldLines(text, 0, wsBeforeColon);
  return Array.isArray(fields) ? fields : [fields.fault, fields.name];
};

test('names as received, values without the OWS around them, obs-text kept', () => {
  const text = 'Host: a\r\nX-Empty:\r\nX-Ows: \t b c \t\r\nX-Obs: \xa0v\xa0\r\n';
  const fields = ['Host', 'a', 'X-Empty', '', 'X-Ows', 'b c', 'X-Obs', '\xa0v\xa0'];
  assert.deepEqual(read(text, false), fields);
  assert.deepEqual(read(text, true), fields);
});

test('whitespace before the colon: removed for a response, refused for a request', () => {
  assert.deepEqual(read('X-A \t: b\r\n', true), ['X-A', 'b']);
  assert.deepEqual(read('X-A \t: b\r\n', false), ['invalid-name', 'X-A \t']);
});

const faults: [string, string, [string, string]][] = [
  ['a bare LF after the colon', 'X-A: b\nX-B: c\r\n', ['bare-lf', 'X-A']],
  ['a bare LF before any colon', 'X-A\nX-B: c\r\n', ['bare-lf', '']],
  ['a bare CR in a value', 'X-A: b\rc\r\n', ['bare-cr', 'X-A']],
  ['whitespace before the first field', ' X-A: b\r\n', ['leading-whitespace', '']],
  ['obs-fold', 'X-A: b\r\n c\r\n', ['obs-fold', 'X-A']],
  ['no colon', 'X-A\r\n', ['no-colon', '']],
  ['an empty name', ': b\r\n', ['empty-name', '']],
  ['a name that is not a token', 'X@A: b\r\n', ['invalid-name', 'X@A']],
  ['a NUL in a value', 'X-A: b\0\r\n', ['invalid-value', 'X-A']],
];
for (const [name, text, fault] of faults) {
  test(`a request's and a response's reading name the same fault: ${name}`, () => {
    assert.deepEqual(read(text, false), fault);
    assert.deepEqual(read(text, true), fault);
    // A section still arriving is checked line by line to the same verdict.
    assert.equal(checkFieldLines(text, true, 0, '')?.fault, fault[0]);
  });
}

test(`more than ${MAX_FIELDS} fields is too many, whole or counted across checks`, () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `x${i}: v\r\n`).join('');
  assert.equal(read(lines(MAX_FIELDS), false).length, MAX_FIELDS * 2);
  assert.deepEqual(read(lines(MAX_FIELDS + 1), true)[0], 'too-many');
  assert.equal(checkFieldLines(`${lines(1)}Bad Name: x\r\n`, true, MAX_FIELDS, 'x')?.fault, 'too-many');
  assert.equal(checkFieldLines(' folded\r\n', true, 3, 'X-Prev')?.name, 'X-Prev');
});

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

/** A string of its own, as a head read off a socket is (not the literal). */
const fresh = (text: string) => Buffer.from(text, 'latin1').toString('latin1');

test('a section read again gives its fields again, in a list of its own', () => {
  const section = 'Host: a\r\nContent-Length: 5\r\n';
  const first = readFieldLines(fresh(section), 0, true) as string[];
  first[3] = 'changed by its reader';
  const second = readFieldLines(fresh(section), 0, true) as string[];
  assert.deepEqual(second, ['Host', 'a', 'Content-Length', '5']);
  assert.notEqual(second, first);
  second.length = 0;
  assert.deepEqual(readFieldLines(fresh(section), 0, true), ['Host', 'a', 'Content-Length', '5']);
});

test('a section of the same length that differs in one byte is read, and refused, as itself', () => {
  const valid = 'X-A: bc\r\nX-B: d\r\n';
  for (let i = 0; i < 3; i++)
    assert.deepEqual(readFieldLines(fresh(valid), 0, false), ['X-A', 'bc', 'X-B', 'd']);
  const bad = readFieldLines(fresh('X-A: \rc\r\nX-B: d\r\n'), 0, false);
  assert.equal(Array.isArray(bad) ? 'read' : bad.fault, 'bare-cr');
  assert.deepEqual(readFieldLines(fresh('X-A: bC\r\nX-B: d\r\n'), 0, false), ['X-A', 'bC', 'X-B', 'd']);
});

test('sections that take turns (clients interleaved) are each read as themselves, whatever the memo waits', () => {
  const sections: [string, string[]][] = [
    ['Host: a\r\n', ['Host', 'a']],
    ['Host: b\r\n', ['Host', 'b']],
    ['Host: a\r\nAccept: */*\r\n', ['Host', 'a', 'Accept', '*/*']],
  ];
  // Turns of 1 to 5 heads of one section: the memo misses, waits and hits.
  for (let turn = 0; turn < 120; turn++) {
    const [text, fields] = sections[turn % sections.length];
    for (let k = 0; k <= turn % 5; k++) {
      const head = fresh(`GET / HTTP/1.1\r\n${text}\r\n`);
      assert.deepEqual(readFieldLines(head, 16, false, 16 + text.length), fields);
    }
  }
});

test('on a connection: a request like the one before is read as it was, one that differs in a byte is refused', () => {
  const heads: string[] = [];
  let refusal = '';
  const handler = {
    onHead: (head: { headers: string[] }) => heads.push(head.headers.join('|')),
    onBody() {},
    onComplete() {},
  };
  const parser = new RequestParser(handler, { headerSize: 8192, uriLength: 8192 });
  for (const text of ['Host: a\r\nX-A: 1\r\n', 'Host: a\r\nX-A: 1\r\n', 'Host: a\r\nX-A:\x011\r\n']) {
    const error = parser.execute(Buffer.from(`GET / HTTP/1.1\r\n${text}\r\n`, 'latin1'));
    if (error !== undefined) refusal = `${error.status} ${error.code}`;
    else parser.next();
  }
  assert.deepEqual(heads, ['Host|a|X-A|1', 'Host|a|X-A|1']);
  assert.equal(refusal, '400 HPE_INVALID_HEADER_TOKEN');
});

test('answers that take turns (upstreams interleaved) each frame as their own fields say, whatever the memo kept', () => {
  const sections: [string, string][] = [
    ['Content-Length: 2\r\n', 'length 2 keep'],
    ['Transfer-Encoding: chunked\r\nConnection: close\r\n', 'chunked -1 close'],
    ['Content-Length: 02\r\nKeep-Alive: max=1\r\n', 'length 2 close'],
    ['Content-Length: 2\r\nContent-Length: 3\r\n', 'refused'],
  ];
  const seen: string[] = [];
  const handler = {
    onHead: (head: AnswerHead) =>
      seen.push(`${head.framing} ${head.contentLength} ${head.keepAlive ? 'keep' : 'close'}`),
    onBody: () => {},
    onComplete: () => {},
  };
  // Turns of 1 to 5 answers of one section, each on a parser of its own (one connection each):
  // the memo misses, waits and hits.
  for (let turn = 0; turn < 120; turn++) {
    const [text, said] = sections[turn % sections.length];
    for (let k = 0; k <= turn % 5; k++) {
      const parser = new AnswerParser(handler, 16384);
      parser.expect(false);
      const error = parser.execute(Buffer.from(`HTTP/1.1 200 OK\r\n${text}\r\n`, 'latin1'));
      assert.equal(error === undefined ? seen.pop() : 'refused', said, `turn ${turn}`);
    }
  }
});
