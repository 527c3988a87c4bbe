/**
 * The one field-line reader both parsers use (field-lines.ts): what it makes of a section, and
 * that a request's and a response's reading differ on one rule only, whitespace before the
 * colon (RFC 9112 §5.1: a server refuses it, a proxy removes it from a response).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFieldLines, MAX_FIELDS, readFieldLines } from '../../../src/core/http1/field-lines.ts';

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
