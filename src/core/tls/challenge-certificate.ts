import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  bitString,
  boolean,
  explicit,
  octetString,
  oid,
  sequence,
  smallInteger,
  time,
  unsignedInteger,
} from './der.ts';
import { commonName, dnsNames, ECDSA_SHA256, SUBJECT_ALT_NAME } from './names.ts';

/** id-pe-acmeIdentifier (RFC 8737 §6.1). */
const ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';

/**
 * The self-signed certificate a TLS-ALPN-01 challenge is answered with (RFC 8737 §3): the
 * name alone in its subjectAltName, and the critical acmeIdentifier extension holding the
 * SHA-256 of the key authorization. Served only on connections that offer `acme-tls/1` and
 * nothing else; valid for a week around now, as the CA looks at it only during the validation.
 */
export function challengeCertificate(name: string, keyAuthorization: string): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const digest = createHash('sha256').update(keyAuthorization).digest();
  const now = Date.now();
  const extensions = sequence(
    sequence(oid(SUBJECT_ALT_NAME), octetString(dnsNames([name]))),
    sequence(oid(ACME_IDENTIFIER), boolean(true), octetString(octetString(digest))),
  );
  const subject = commonName(name);
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(randomBytes(16)),
    ECDSA_SHA256,
    subject,
    sequence(time(new Date(now - 86_400_000)), time(new Date(now + 6 * 86_400_000))),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions),
  );
  const der = sequence(tbs, ECDSA_SHA256, bitString(sign('sha256', tbs, privateKey)));
  const body = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
