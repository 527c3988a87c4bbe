/**
 * A stored answer's key part of what the upstream is told beyond Host and the scheme
 * (forwarded-key.ts): Forwarded's `host=` and `proto=` that are not the key's own, the same
 * asked again, after other values, and past the values whose part is kept (emptied when full).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardedKeyPart } from '../../../src/proxy/cache/forwarded-key.ts';

/** The part for a request whose upstream gets `forwarded` and Host `authority` over `scheme`. */
const partOf = (forwarded: string, authority = 'shop.example', scheme = 'https') =>
  forwardedKeyPart(['host', authority, 'forwarded', forwarded], authority, scheme);

/** What each of 600 values' part must be: this hop's own element (nothing), or another host, or another scheme. */
function expected(i: number): [string, string] {
  const client = `for=192.0.2.${i % 250}`;
  if (i % 3 === 0) return [`${client};host=shop.example;proto=https`, ''];
  if (i % 3 === 1) return [`${client};host=other${i}.example;proto=https`, `fwd;host=other${i}.example`];
  return [`for=198.51.100.7;proto=http, ${client};host=shop.example;proto=https`, 'fwd;proto=http'];
}

test("Forwarded's part is the same asked again, among other values and past the values kept", () => {
  for (const order of [1, 1, -1])
    for (let n = 0; n < 600; n++) {
      const i = order === 1 ? n : 599 - n;
      const [value, part] = expected(i);
      assert.equal(partOf(value), part, value);
    }
  // The same value under another Host or scheme is another part.
  const [value] = expected(0);
  assert.equal(partOf(value, 'other.example'), 'fwd;host=shop.example');
  assert.equal(partOf(value, 'shop.example', 'http'), 'fwd;proto=https');
  assert.equal(partOf(value), '');
});
