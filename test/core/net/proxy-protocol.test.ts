/**
 * The PROXY protocol parser (HAProxy's spec, v1 and v2): what it takes, what it refuses, and
 * that it never reads past its bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseProxyHeader, V1_MAX_LENGTH, V2_MAX_LENGTH } from '../../../src/core/net/proxy-protocol.ts';
import { v2Header } from '../../helpers/proxy-header.ts';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

describe('PROXY protocol v1', () => {
  test('TCP4 and TCP6 name the source; the header length is the line with its CRLF', () => {
    const line = 'PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.from(`${line}GET / HTTP/1.1\r\n`)), {
      kind: 'header',
      length: line.length,
      source: '203.0.113.7',
    });
    const six = 'PROXY TCP6 2001:db8::7 2001:db8::1 1 2\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.from(six)), {
      kind: 'header',
      length: six.length,
      source: '2001:db8::7',
    });
  });

  test('UNKNOWN names no source (the peer address stands)', () => {
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN whatever\r\n')), {
      kind: 'header',
      length: 24,
    });
  });

  test('a prefix is incomplete; bytes that do not start like a header are absent', () => {
    assert.equal(parseProxyHeader(Buffer.from('PRO')).kind, 'incomplete');
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')).kind, 'incomplete');
    assert.equal(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r')).kind, 'incomplete');
    assert.equal(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'absent');
    assert.equal(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01])).kind, 'absent');
  });

  for (const [name, line] of [
    ['a family mismatch', 'PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n'],
    ['an unknown protocol', 'PROXY UDP4 1.2.3.4 10.0.0.1 1 2\r\n'],
    ['a missing field', 'PROXY TCP4 1.2.3.4 10.0.0.1 1\r\n'],
    ['a port past 65535', 'PROXY TCP4 1.2.3.4 10.0.0.1 65536 2\r\n'],
    ['a port with a leading zero', 'PROXY TCP4 1.2.3.4 10.0.0.1 01 2\r\n'],
    ['an empty port field', 'PROXY TCP4 1.2.3.4 10.0.0.1  2\r\n'],
    // HAProxy 2.6 serves these as 0.1.1.1, 2.0.0.0 and 192.0.2.10: another client than written.
    ['an octet past 255', 'PROXY TCP4 256.1.1.1 10.0.0.1 1 2\r\n'],
    ['an address as one 32-bit number', 'PROXY TCP4 3221226002 10.0.0.1 1 2\r\n'],
    ['an octet with leading zeros', 'PROXY TCP4 192.000.2.10 10.0.0.1 1 2\r\n'],
    ['two spaces', 'PROXY TCP4  1.2.3.4 10.0.0.1 1 2\r\n'],
    ['a bare LF', 'PROXY TCP4 1.2.3.4 10.0.0.1 1 2\n\r\n'],
    // Its rest is ignored, but not past a line's end: the request line after it is no part of it.
    ['an UNKNOWN line ended by a bare LF', 'PROXY UNKNOWN x\nGET / HTTP/1.1\r\n'],
    ['a bare CR', 'PROXY UNKNOWN x\ry\r\n'],
    // RFC 4291 text: a zone index names an interface of the balancer, never a client.
    ['an IPv6 zone index', 'PROXY TCP6 fe80::7%eth0 fe80::1 1 2\r\n'],
  ]) {
    test(`refused: ${name}`, () => assert.equal(parseProxyHeader(Buffer.from(line)).kind, 'invalid'));
  }

  test(`a line longer than ${V1_MAX_LENGTH} bytes is refused without waiting for its end`, () => {
    const long = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH)}`);
    assert.equal(parseProxyHeader(long).kind, 'invalid');
    assert.equal(parseProxyHeader(long.subarray(0, V1_MAX_LENGTH - 1)).kind, 'incomplete');
  });
});

describe('PROXY protocol v2', () => {
  const tcp4 = Buffer.from([198, 51, 100, 9, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb]);

  test('TCP4 over a stream names the source; TLVs after the addresses are skipped', () => {
    const header = v2Header(1, 0x11, Buffer.concat([tcp4, Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb])]));
    assert.deepEqual(parseProxyHeader(Buffer.concat([header, Buffer.from('GET')])), {
      kind: 'header',
      length: header.length,
      source: '198.51.100.9',
    });
  });

  test('TCP6 names the source in its canonical text', () => {
    const body = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000007', 'hex').copy(body, 0);
    assert.deepEqual(parseProxyHeader(v2Header(1, 0x21, body)), {
      kind: 'header',
      length: 52,
      source: '2001:db8::7',
    });
  });

  test('a datagram family names its source as the stream one does (the spec lets a receiver refuse none of its valid families)', () => {
    assert.deepEqual(parseProxyHeader(v2Header(1, 0x12, tcp4)), {
      kind: 'header',
      length: 28,
      source: '198.51.100.9',
    });
    const udp6 = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000009', 'hex').copy(udp6, 0);
    assert.deepEqual(parseProxyHeader(v2Header(1, 0x22, udp6)), {
      kind: 'header',
      length: 52,
      source: '2001:db8::9',
    });
    // A UNIX datagram socket has no client address: the peer stands, as for a UNIX stream.
    assert.deepEqual(parseProxyHeader(v2Header(1, 0x32, Buffer.alloc(216))), { kind: 'header', length: 232 });
    assert.deepEqual(parseProxyHeader(v2Header(1, 0x12, tcp4.subarray(0, 8))), {
      kind: 'invalid',
      reason: 'v2 UDP4 header too short for its addresses',
    });
  });

  test('LOCAL names no source, whatever its family', () => {
    assert.deepEqual(parseProxyHeader(v2Header(0, 0x11, tcp4)), { kind: 'header', length: 28 });
    assert.deepEqual(parseProxyHeader(v2Header(0, 0x00, Buffer.alloc(0))), { kind: 'header', length: 16 });
  });

  test('a header is incomplete until its length has arrived', () => {
    const header = v2Header(1, 0x11, tcp4);
    assert.equal(parseProxyHeader(header.subarray(0, 10)).kind, 'incomplete');
    assert.equal(parseProxyHeader(header.subarray(0, 20)).kind, 'incomplete');
  });

  for (const [name, header] of [
    ['version 1 in the version nibble', Buffer.concat([SIGNATURE, Buffer.from([0x11, 0x11, 0, 12]), tcp4])],
    ['a command past PROXY', v2Header(2, 0x11, tcp4)],
    ['addresses shorter than their family', v2Header(1, 0x11, tcp4.subarray(0, 8))],
    ['UNIX addresses shorter than their family', v2Header(1, 0x31, Buffer.alloc(108))],
    ['an unknown family', v2Header(1, 0x41, tcp4)],
  ] as const) {
    test(`refused: ${name}`, () => assert.equal(parseProxyHeader(header).kind, 'invalid'));
  }

  test('TLVs that fill the header exactly pass; one that runs past it, or a TLV cut in its head, is refused', () => {
    const tlvs = (...bytes: number[]) => Buffer.concat([tcp4, Buffer.from(bytes)]);
    // Two TLVs (a NOOP of 2 bytes, an empty one): they end where the header does.
    assert.equal(
      parseProxyHeader(v2Header(1, 0x11, tlvs(0x04, 0, 2, 0xaa, 0xbb, 0x05, 0, 0))).kind,
      'header',
    );
    assert.deepEqual(parseProxyHeader(v2Header(1, 0x11, tlvs(0x04, 0, 3, 0xaa, 0xbb))), {
      kind: 'invalid',
      reason: 'v2 header with a TLV (type 0x04) of 3 bytes that runs past the header',
    });
    assert.deepEqual(parseProxyHeader(v2Header(1, 0x11, tlvs(0x04, 0, 0, 0xea, 0xff))), {
      kind: 'invalid',
      reason: 'v2 header with 2 byte(s) after its TLVs, too few for one',
    });
    const tcp6 = Buffer.concat([Buffer.alloc(36), Buffer.from([0xea, 0xff, 0xff, 0x01])]);
    assert.equal(parseProxyHeader(v2Header(1, 0x21, tcp6)).kind, 'invalid');
    const unix = Buffer.concat([Buffer.alloc(216), Buffer.from([0x01, 0x00, 0x09, 0x68, 0x32])]);
    assert.equal(parseProxyHeader(v2Header(1, 0x31, unix)).kind, 'invalid');
  });

  test(`a length past ${V2_MAX_LENGTH} bytes is refused from the head alone`, () => {
    const head = Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0, 0])]);
    head.writeUInt16BE(V2_MAX_LENGTH + 1, 14);
    assert.equal(parseProxyHeader(head).kind, 'invalid');
  });
});
