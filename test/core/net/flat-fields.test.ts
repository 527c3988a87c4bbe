/**
 * One owner for a field of a flat [name, value, …] list (downstream.ts): the first line's value
 * (a stored answer's ETag, Last-Modified, If-Range: a repeat is not a list) or every line joined
 * with ", " (Accept-Encoding, Cache-Control, an auth service's WWW-Authenticate).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstField, joinedField } from '../../../src/core/net/downstream.ts';

const FIELDS = ['ETag', '"a"', 'Accept-Encoding', 'gzip', 'etag', '"b"'];
FIELDS.push('ACCEPT-ENCODING', 'br', 'ETags', '"c"');

test('firstField: the first line of the name, whatever its case; another name of the same start is not it', () => {
  assert.equal(firstField(FIELDS, 'etag'), '"a"');
  assert.equal(firstField(FIELDS, 'accept-encoding'), 'gzip');
  assert.equal(firstField(FIELDS, 'etags'), '"c"');
  assert.equal(firstField(FIELDS, 'last-modified'), undefined);
});

test('joinedField: every line of the name joined with ", ", in order', () => {
  assert.equal(joinedField(FIELDS, 'etag'), '"a", "b"');
  assert.equal(joinedField(FIELDS, 'accept-encoding'), 'gzip, br');
  assert.equal(joinedField(FIELDS, 'etags'), '"c"');
  assert.equal(joinedField(FIELDS, 'last-modified'), undefined);
  assert.equal(joinedField([], 'etag'), undefined);
});
