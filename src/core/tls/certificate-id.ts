/**
 * A certificate's ACME Renewal Information identifier (RFC 9773 §4.1): the key identifier of
 * its Authority Key Identifier extension and the content of its serial number, each
 * base64url-encoded, joined by a dot. Node's X509Certificate gives neither byte for byte, so
 * the DER is walked here: only the few nodes on the way, each length checked.
 */

/** A DER TLV: its tag, and where its content lies (read by certificate-dates.ts too). */
export interface Node {
  readonly tag: number;
  /** Where the content starts and ends. */
  readonly start: number;
  readonly end: number;
}

/** The TLV at `at`, or undefined when it runs past `limit`. */
export function node(der: Buffer, at: number, limit: number): Node | undefined {
  if (at + 2 > limit) return undefined;
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) return undefined;
    length = der.readUIntBE(start, bytes);
    start += bytes;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

export function children(der: Buffer, parent: Node): Node[] {
  const found: Node[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = node(der, at, parent.end);
    if (child === undefined) return found;
    found.push(child);
    at = child.end;
  }
  return found;
}

/** 2.5.29.35, authorityKeyIdentifier, as its DER content. */
const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]);

/** The ARI identifier of a certificate (its DER), or undefined when it has no key identifier of its issuer. */
export function certificateId(der: Buffer): string | undefined {
  const certificate = node(der, 0, der.length);
  if (certificate === undefined) return undefined;
  const [tbs] = children(der, certificate);
  if (tbs === undefined) return undefined;
  const fields = children(der, tbs);
  // [0] version first when present, then the serial number.
  const serial = fields.find((field, i) => field.tag === 0x02 && i <= 1);
  const extensions = fields.find((field) => field.tag === 0xa3);
  if (serial === undefined || extensions === undefined) return undefined;
  const [list] = children(der, extensions);
  for (const extension of list === undefined ? [] : children(der, list)) {
    const [oid, ...rest] = children(der, extension);
    if (oid?.tag !== 0x06 || !der.subarray(oid.start, oid.end).equals(AKI_OID)) continue;
    const value = rest.find((n) => n.tag === 0x04);
    const aki = value && node(der, value.start, value.end);
    const keyId = aki && children(der, aki).find((n) => n.tag === 0x80);
    if (keyId === undefined) return undefined;
    return `${der.subarray(keyId.start, keyId.end).toString('base64url')}.${der.subarray(serial.start, serial.end).toString('base64url')}`;
  }
  return undefined;
}
