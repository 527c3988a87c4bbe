/**
 * appendListMember: a received list (Via) with this hop's member appended, the received one's
 * empty members dropped (RFC 9110 §5.6.1.1), a comma inside a comment or a quoted-string kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendListMember } from '../../../src/core/http1/syntax.ts';

test('a received list without empty members goes on byte for byte, this hop after it', () => {
  assert.equal(appendListMember(undefined, '1.1 edge'), '1.1 edge');
  assert.equal(appendListMember('1.1 a,1.0 b (x, y)', '1.1 edge'), '1.1 a,1.0 b (x, y), 1.1 edge');
});

test('empty members go, whatever made them: an empty line, a trailing or leading comma, two in a row', () => {
  assert.equal(appendListMember('', '1.1 edge'), '1.1 edge');
  assert.equal(appendListMember(' , \t,', '1.1 edge'), '1.1 edge');
  assert.equal(appendListMember(', 1.1 a,, 1.1 b,', '1.1 edge'), '1.1 a, 1.1 b, 1.1 edge');
});

test('a comma in a comment (nested, with a quoted-pair) or in a quoted-string ends no member', () => {
  assert.equal(
    appendListMember('1.1 a (x, (y, z) \\), w),, 1.1 b', '1.1 edge'),
    '1.1 a (x, (y, z) \\), w), 1.1 b, 1.1 edge',
  );
  assert.equal(appendListMember('1.1 "a,b",', '1.1 edge'), '1.1 "a,b", 1.1 edge');
});
