/** Forwarded's `for=` nodes (RFC 7239 §4, §6), one per element, as the trusted walk reads them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  forwardedForNodes,
  forwardedParams,
  namedEntries,
  readableElements,
} from '../../../src/core/net/forwarded-for.ts';

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

test('an element with a parameter twice (RFC 7239 §4: MUST NOT) names nothing, whichever parameter it is', () => {
  assert.deepEqual(forwardedForNodes('for=10.0.0.5;For=6.6.6.6, for=10.0.0.6'), ['', '10.0.0.6']);
  assert.deepEqual(forwardedForNodes('for=10.0.0.5;proto=http;PROTO=https'), ['']);
  assert.deepEqual(forwardedParams('for=10.0.0.5;host=a;host=b', 'host='), ['']);
  // A name inside a quoted value is no parameter of the element.
  assert.deepEqual(forwardedForNodes('for=10.0.0.5;host="for=1.2.3.4"'), ['10.0.0.5']);
});

test('readableElements: an element that cannot be read goes on as for=unknown; a readable value as written', () => {
  assert.equal(
    readableElements('for=10.0.0.5,  for="[2001:db8::7]:1"'),
    'for=10.0.0.5,  for="[2001:db8::7]:1"',
  );
  assert.equal(readableElements('for=10.0.0.5, for="[2001:db8::7]'), 'for=10.0.0.5, for=unknown');
  assert.equal(readableElements('for="'), 'for=unknown');
  assert.equal(readableElements('for="a\\'), 'for=unknown');
  assert.equal(readableElements('for=1.2.3.4;for=5.6.7.8 ,for=10.0.0.5'), 'for=unknown, for=10.0.0.5');
});

test('readableElements: an empty element (an empty line, a trailing comma) goes on as for=unknown, never empty', () => {
  assert.equal(readableElements(''), 'for=unknown');
  assert.equal(readableElements('for=10.0.0.5,'), 'for=10.0.0.5, for=unknown');
  assert.equal(readableElements('for=10.0.0.5, ,host="a,b"'), 'for=10.0.0.5, for=unknown, host="a,b"');
});

test('namedEntries: an empty X-Forwarded-For entry is unknown; a list without one as written', () => {
  assert.equal(namedEntries('203.0.113.7,198.51.100.2'), '203.0.113.7,198.51.100.2');
  assert.equal(namedEntries(''), 'unknown');
  assert.equal(namedEntries('203.0.113.7, ,198.51.100.2,'), '203.0.113.7, unknown, 198.51.100.2, unknown');
});
