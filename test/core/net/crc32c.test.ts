/** CRC-32C (Castagnoli) against the check values of RFC 3720 §B.4 and the catalogue's "123456789". */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c } from '../../../src/core/net/crc32c.ts';
import { crc32cBitwise } from '../../helpers/proxy-header.ts';

test('crc32c gives the published check values', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('crc32c agrees with the bit-by-bit definition on every length up to 300', () => {
  const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff));
  for (let n = 0; n <= bytes.length; n++)
    assert.equal(crc32c(bytes.subarray(0, n)), crc32cBitwise(bytes.subarray(0, n)), `${n}`);
});
