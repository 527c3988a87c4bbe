/** Forwarded's `for=` nodes (RFC 7239 §4, §6), one per element, as the trusted walk reads them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardedForNodes } from '../../../src/core/net/forwarded-for.ts';

test('each element gives its for= node, unquoted, or "" without one', () => {
  assert.deepEqual(forwardedForNodes('for=192.0.2.60;proto=http;by=203.0.113.43'), ['192.0.2.60']);
  assert.deepEqual(forwardedForNodes('for="[2001:db8:cafe::17]:4711", FOR=_gazonk ,proto=https'), [
    '[2001:db8:cafe::17]:4711',
    '_gazonk',
    '',
  ]);
  assert.deepEqual(forwardedForNodes('host="a,b;for=1.2.3.4";for=10.0.0.1'), ['10.0.0.1']);
  assert.deepEqual(forwardedForNodes('for="a\\"b"'), ['a"b']);
  assert.deepEqual(forwardedForNodes('for=unknown, for=10.0.0.1'), ['unknown', '10.0.0.1']);
});

test('an unclosed quoted-string leaves the last element unread', () => {
  assert.deepEqual(forwardedForNodes('for=10.0.0.5, for="[2001:db8::7]'), ['10.0.0.5', '']);
});
