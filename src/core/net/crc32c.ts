/**
 * CRC-32C (Castagnoli, RFC 3720 §B.4: the reflected polynomial 0x82F63B78, initial value and
 * final XOR 0xFFFFFFFF), a byte at a time through a 256-entry table. What a PROXY protocol v2
 * header's PP2_TYPE_CRC32C TLV holds (node:zlib's crc32 is the other polynomial, IEEE 802.3's).
 *
 * @example crc32c(Buffer.from('123456789')) // 0xe3069283
 */
const POLYNOMIAL = 0x82f63b78;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** The CRC-32C of `bytes`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
