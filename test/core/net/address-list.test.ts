/** Address lists: which entry an address falls in, IPv4, IPv6 and IPv4-mapped IPv6 alike. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAddressList } from '../../../src/core/net/address-list.ts';

test('an address list names the entry an IPv4 or IPv6 address falls in, and none for others', () => {
  const list = createAddressList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1']);
  assert.equal(list.match('10.200.3.4'), '10.0.0.0/8');
  assert.equal(list.match('192.168.1.7'), '192.168.1.7');
  assert.equal(list.match('192.168.1.8'), undefined);
  assert.equal(list.match('2001:db8:0:1::5'), '2001:db8::/32');
  assert.equal(list.match('::1'), '::1');
  assert.equal(list.match('2001:db9::1'), undefined);
  assert.equal(list.match('not an address'), undefined);
  assert.equal(list.match(''), undefined);
});

test('IPv4-mapped IPv6 matches IPv4 entries, and mapped entries match IPv4 addresses', () => {
  const v4 = createAddressList(['10.0.0.0/8']);
  assert.equal(v4.match('::ffff:10.1.2.3'), '10.0.0.0/8');
  assert.equal(v4.match('::ffff:a01:203'), '10.0.0.0/8', 'the hex form of ::ffff:10.1.2.3');
  assert.equal(v4.match('::ffff:11.1.2.3'), undefined);
  const mapped = createAddressList(['::ffff:10.0.0.0/104', '::ffff:172.16.0.1']);
  assert.equal(mapped.match('10.9.9.9'), '::ffff:10.0.0.0/104');
  assert.equal(mapped.match('172.16.0.1'), '::ffff:172.16.0.1');
  assert.equal(mapped.match('172.16.0.2'), undefined);
});

test('the first entry that holds the address is the one named', () => {
  const list = createAddressList(['10.1.0.0/16', '10.0.0.0/8', '0.0.0.0/0']);
  assert.equal(list.match('10.1.2.3'), '10.1.0.0/16');
  assert.equal(list.match('10.2.2.3'), '10.0.0.0/8');
  assert.equal(list.match('8.8.8.8'), '0.0.0.0/0');
  assert.equal(list.match('::2'), undefined, 'an IPv4 block holds no IPv6 address');
});

test('answers asked again, and past the addresses a list remembers, are those asked first', () => {
  const list = createAddressList(['10.0.0.0/24', '2001:db8::/64']);
  const expected = (i: number) => (i % 2 === 0 ? '10.0.0.0/24' : undefined);
  const address = (i: number) => (i % 2 === 0 ? `10.0.0.${i % 256}` : `10.0.1.${i % 256}`);
  // 600 addresses (more than the 256 remembered), asked twice over in the same and in reverse order.
  for (const order of [1, 1, -1])
    for (let n = 0; n < 600; n++) {
      const i = order === 1 ? n : 599 - n;
      assert.equal(list.match(address(i)), expected(i), address(i));
    }
  for (let i = 0; i < 300; i++) {
    assert.equal(list.match(`2001:db8::${i.toString(16)}`), '2001:db8::/64');
    assert.equal(list.match(`2001:db9::${i.toString(16)}`), undefined);
  }
  assert.equal(list.match('10.0.0.7'), '10.0.0.0/24');
  assert.equal(list.match('not an address'), undefined);
  assert.equal(list.match('not an address'), undefined, 'asked again');
});
