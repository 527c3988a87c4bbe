/**
 * The admin token's comparison (token.ts): both sides hashed before `timingSafeEqual`, so a
 * token of any length, shorter, longer or of multi-byte characters, is compared without a
 * throw (timingSafeEqual's on unequal lengths would be a 500, and an early length check a
 * timing tell) and only the token itself, whole, is `ok`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerMatches } from '../../../src/server/admin/token.ts';

const TOKEN = 'admin-token-0123456789abcdef';

test('only "Bearer <the token>" is ok; a prefix, an extension, another length or another scheme is wrong', () => {
  assert.equal(bearerMatches(`Bearer ${TOKEN}`, TOKEN), 'ok');
  assert.equal(
    bearerMatches(`bearer ${TOKEN}`, TOKEN),
    'ok',
    'the scheme is case-insensitive (RFC 9110 §11.1)',
  );
  for (let cut = 0; cut < TOKEN.length; cut++)
    assert.equal(bearerMatches(`Bearer ${TOKEN.slice(0, cut)}`, TOKEN), 'wrong', `${cut} characters of it`);
  for (const other of [
    `${TOKEN}x`,
    `${TOKEN}${TOKEN}`,
    'x'.repeat(10_000),
    `${TOKEN.slice(0, -1)}é`,
    '🔑'.repeat(14),
  ])
    assert.equal(bearerMatches(`Bearer ${other}`, TOKEN), 'wrong');
  assert.equal(bearerMatches(`Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`, TOKEN), 'wrong');
  assert.equal(bearerMatches(TOKEN, TOKEN), 'wrong', 'the token without its scheme');
  assert.equal(bearerMatches(`Bearer ${TOKEN} ${TOKEN}`, TOKEN), 'wrong');
});

test('no header, or an empty one, is missing: no guess is spent on it', () => {
  assert.equal(bearerMatches(undefined, TOKEN), 'missing');
  assert.equal(bearerMatches('', TOKEN), 'missing');
});
