/**
 * What a TLS ClientHello offers, read before the handshake: the server name (SNI) and the ALPN
 * protocols. A TLS-ALPN-01 validation (RFC 8737) must be answered with a certificate of its
 * own on a connection that offers `acme-tls/1`; node:tls chooses the certificate by SNI alone,
 * before it sees ALPN, so the listener reads the first record itself.
 *
 * Strict and bounded: one handshake record of at most 16 KiB, lengths checked at every step;
 * anything else is 'not-hello' (the connection goes on to node:tls, which refuses it as it would).
 */

export interface ClientHello {
  readonly serverName: string | undefined;
  readonly alpn: readonly string[];
}

/** The most a ClientHello's first record may be (TLS 1.3 record limit plus its header). */
export const MAX_HELLO_BYTES = 5 + 16_384;

/**
 * Reads `bytes` (what arrived so far): 'incomplete' until the first record is whole, then the
 * hello, or 'not-hello' when the bytes are not a ClientHello in one record.
 */
export function readClientHello(bytes: Buffer): ClientHello | 'incomplete' | 'not-hello' {
  if (bytes.length < 5) return bytes.length > 0 && bytes[0] !== 0x16 ? 'not-hello' : 'incomplete';
  if (bytes[0] !== 0x16) return 'not-hello'; // not a handshake record
  const recordLength = bytes.readUInt16BE(3);
  if (recordLength > 16_384) return 'not-hello';
  if (bytes.length < 5 + recordLength) return 'incomplete';
  const record = bytes.subarray(5, 5 + recordLength);
  // Handshake header: type 1 (client_hello) and a 24-bit length within this record.
  if (record.length < 4 || record[0] !== 0x01) return 'not-hello';
  const helloLength = record.readUIntBE(1, 3);
  if (helloLength > record.length - 4) return 'not-hello';
  const hello = record.subarray(4, 4 + helloLength);
  try {
    let at = 2 + 32; // legacy_version, random
    at += 1 + hello[at]; // legacy_session_id
    at += 2 + hello.readUInt16BE(at); // cipher_suites
    at += 1 + hello[at]; // legacy_compression_methods
    if (at === hello.length) return { serverName: undefined, alpn: [] }; // no extensions
    const end = at + 2 + hello.readUInt16BE(at);
    if (end > hello.length) return 'not-hello';
    at += 2;
    let serverName: string | undefined;
    let alpn: string[] = [];
    while (at + 4 <= end) {
      const type = hello.readUInt16BE(at);
      const length = hello.readUInt16BE(at + 2);
      const body = hello.subarray(at + 4, at + 4 + length);
      if (body.length !== length) return 'not-hello';
      if (type === 0) serverName = readServerName(body);
      else if (type === 16) alpn = readProtocols(body);
      at += 4 + length;
    }
    return { serverName, alpn };
  } catch {
    return 'not-hello'; // a length that ran past the buffer
  }
}

/** server_name (RFC 6066 §3): a list of which the host_name (type 0) is used. */
function readServerName(body: Buffer): string | undefined {
  let at = 2;
  while (at + 3 <= body.length) {
    const type = body[at];
    const length = body.readUInt16BE(at + 1);
    if (type === 0)
      return body
        .subarray(at + 3, at + 3 + length)
        .toString('latin1')
        .toLowerCase();
    at += 3 + length;
  }
  return undefined;
}

/** application_layer_protocol_negotiation (RFC 7301 §3.1): a list of length-prefixed names. */
function readProtocols(body: Buffer): string[] {
  const protocols: string[] = [];
  const end = Math.min(body.length, 2 + body.readUInt16BE(0));
  for (let at = 2; at < end; ) {
    const length = body[at];
    protocols.push(body.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  return protocols;
}
