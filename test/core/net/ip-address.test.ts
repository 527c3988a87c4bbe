/** An IPv4-mapped address reads as its IPv4 in every spelling, wherever a client is keyed or named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unmapIPv4 } from '../../../src/core/net/ip-address.ts';
import { createTrustList } from '../../../src/core/net/trust.ts';

test('every spelling of an IPv4-mapped address is its IPv4; anything else is kept as it is', () => {
  for (const mapped of [
    '::ffff:10.0.0.1',
    '::FFFF:10.0.0.1',
    '::ffff:a00:1',
    '0:0:0:0:0:ffff:a00:1',
    '::ffff:0a00:0001',
  ])
    assert.equal(unmapIPv4(mapped), '10.0.0.1', mapped);
  for (const other of [
    '10.0.0.1',
    '2001:db8::ffff:a00:1',
    'ffff::1',
    '::1',
    '64:ff9b::a00:1',
    '',
    'junk',
    '::ffff:',
  ])
    assert.equal(unmapIPv4(other), other, other);
});

test('a trust list holds a mapped address in every spelling, and an IPv4 one written mapped', () => {
  const trust = createTrustList(['10.0.0.0/8', '::ffff:192.0.2.0/120']);
  for (const address of [
    '10.0.0.1',
    '::ffff:a00:1',
    '0:0:0:0:0:FFFF:10.0.0.1',
    '192.0.2.9',
    '::ffff:c000:209',
  ])
    assert.equal(trust.has(address), true, address);
  assert.equal(trust.has('2001:db8::a00:1'), false);
});
