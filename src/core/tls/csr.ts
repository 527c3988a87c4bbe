import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import { bitString, implicitConstructed, octetString, oid, sequence, set, smallInteger } from './der.ts';
import { commonName, dnsNames, ECDSA_SHA256, SUBJECT_ALT_NAME } from './names.ts';

/**
 * A PKCS#10 certificate signing request (RFC 2986) for these DNS names, signed with `key` (an
 * EC P-256 private key): what an ACME order's finalize carries (RFC 8555 §7.4). The first name
 * is the subject's common name; every name is in the subjectAltName the CA copies.
 */
export function certificateRequest(names: readonly string[], key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const extensionRequest = sequence(
    oid('1.2.840.113549.1.9.14'),
    set(sequence(sequence(oid(SUBJECT_ALT_NAME), octetString(dnsNames(names))))),
  );
  const info = sequence(
    smallInteger(0),
    commonName(names[0]),
    spki,
    implicitConstructed(0, extensionRequest),
  );
  return sequence(info, ECDSA_SHA256, bitString(sign('sha256', info, key)));
}
