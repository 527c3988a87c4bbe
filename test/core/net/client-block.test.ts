/** A client's share is keyed by the block it holds: an IPv4 address, an IPv6 /64. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientBlock } from '../../../src/core/net/client-block.ts';

test('two addresses of one IPv6 /64 are one client, whatever their spelling', () => {
  const one = clientBlock('2001:db8:1:2::1');
  assert.equal(one, '2001:db8:1:2::/64');
  for (const same of [
    '2001:db8:1:2:ffff:ffff:ffff:ffff',
    '2001:DB8:1:2:a:b:c:d',
    '2001:0db8:0001:0002::9',
    '2001:db8:1:2::7%eth0',
  ])
    assert.equal(clientBlock(same), one, same);
  assert.equal(clientBlock('2001:db8:1:3::1'), '2001:db8:1:3::/64');
  assert.equal(clientBlock('::1'), '0:0:0:0::/64');
  assert.equal(clientBlock('2001:db8::1.2.3.4'), '2001:db8:0:0::/64');
});

test('an IPv4 address is its own client, mapped into IPv6 or not', () => {
  assert.equal(clientBlock('198.51.100.7'), '198.51.100.7');
  assert.equal(clientBlock('::ffff:198.51.100.7'), '198.51.100.7');
  assert.equal(clientBlock('::FFFF:c633:6408'), '198.51.100.8');
  assert.notEqual(clientBlock('::ffff:198.51.100.7'), clientBlock('::ffff:198.51.100.8'));
  // The well-known NAT64 prefix (RFC 6052) holds every global IPv4 client: each is its own.
  assert.equal(clientBlock('64:ff9b::9.9.9.7'), '9.9.9.7');
  assert.equal(clientBlock('64:ff9b::909:908'), '9.9.9.8');
  assert.equal(clientBlock('64:ff9b:1::1'), '64:ff9b:1:0::/64');
  // Never a non-global one (§3.1): such an address is no inside client's, and keys as IPv6.
  assert.equal(clientBlock('64:ff9b::a00:1'), '64:ff9b:0:0::/64');
  assert.equal(clientBlock('64:ff9b::198.51.100.7'), '64:ff9b:0:0::/64');
});

test('a prefix other than 64 keeps that many leading bits, a group it cuts masked', () => {
  assert.equal(clientBlock('2001:db8:1:2ff:a:b:c:d', 56), '2001:db8:1:200::/56');
  assert.equal(clientBlock('2001:db8:1:2:a:b:c:d', 48), '2001:db8:1::/48');
  assert.equal(clientBlock('2001:db8:1:2:a:b:c:d', 128), '2001:db8:1:2:a:b:c:d/128');
  assert.equal(clientBlock('::ffff:198.51.100.7', 48), '198.51.100.7');
});

test('what is no address is kept as it is', () => {
  assert.equal(clientBlock(''), '');
  assert.equal(clientBlock('not-an-address'), 'not-an-address');
});
