/**
 * The fix for an upstream certificate that OpenSSL refused for a rule of its chain rather than
 * for an issuer the gateway does not trust: the fix for that one (give the gateway the CA) is
 * no fix for these, whose CA may well be trusted already (advice.ts, certificateFix).
 */

/** OpenSSL's verify error → what is wrong with the chain and what to do, in a sentence or two. */
const CHAIN_RULES: Readonly<Record<string, string>> = {
  PATH_LENGTH_EXCEEDED:
    'its chain is longer than a CA in it allows (PATH_LENGTH_EXCEEDED): a CA whose basicConstraints pathlen bounds the CAs below it (pathlen:0: none) signed another CA all the same. Issue the certificate from a CA that may sign it (directly from the CA with the pathlen), or reissue that CA with a pathlen that allows the intermediates.',
  CERT_CHAIN_TOO_LONG:
    'its chain is longer than the gateway verifies (CERT_CHAIN_TOO_LONG, OpenSSL verify depth). Serve a shorter chain: the certificate and the intermediates up to a trusted CA, no extra cross-signed ones.',
  INVALID_PURPOSE:
    'a certificate of its chain is not for the use it is put to (INVALID_PURPOSE): the certificate itself is not for a TLS server (its extendedKeyUsage lacks serverAuth), or one that signs another is not a CA (it needs basicConstraints CA:TRUE, and keyCertSign if it has keyUsage). Issue the certificate with extendedKeyUsage serverAuth, signed by a real CA certificate.',
  INVALID_CA:
    'it is signed by a certificate that is not a CA (INVALID_CA): one in its chain that signs another lacks basicConstraints CA:TRUE (or keyCertSign in its keyUsage). Serve the chain with the CA certificate that really issued it.',
  CERT_REVOKED:
    'it was revoked by its CA (CERT_REVOKED). Issue a new certificate and install it on the upstream.',
  CERT_SIGNATURE_FAILURE:
    "its signature does not verify against its issuer's key (CERT_SIGNATURE_FAILURE): the chain sends another CA of the same name, or the certificate was altered. Serve the chain with the CA that signed it.",
  UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    "its signature cannot be read with its issuer's key (UNABLE_TO_DECRYPT_CERT_SIGNATURE): the chain sends another CA of the same name. Serve the chain with the CA that signed it.",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    "its issuer's public key cannot be read (UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY): the CA certificate is damaged. Serve the chain with an intact copy of it.",
  ERROR_IN_CERT_NOT_BEFORE_FIELD:
    'its notBefore date is malformed (ERROR_IN_CERT_NOT_BEFORE_FIELD). Issue it again.',
  ERROR_IN_CERT_NOT_AFTER_FIELD:
    'its notAfter date is malformed (ERROR_IN_CERT_NOT_AFTER_FIELD). Issue it again.',
};

/** The revocation list's faults: the list the chain was checked against, not the certificate, is wrong. */
const CRL_FAULTS: Readonly<Record<string, string>> = {
  UNABLE_TO_GET_CRL: 'there is no revocation list for its issuer',
  CRL_HAS_EXPIRED: 'the revocation list for its issuer is past its next update',
  CRL_NOT_YET_VALID: 'the revocation list for its issuer is not valid yet',
  CRL_SIGNATURE_FAILURE: "the revocation list's signature does not verify against its issuer's key",
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: "the revocation list's signature cannot be read with its issuer's key",
  ERROR_IN_CRL_LAST_UPDATE_FIELD: "the revocation list's lastUpdate date is malformed",
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: "the revocation list's nextUpdate date is malformed",
};

/**
 * What is wrong with the upstream's chain for `code` and its fix, a clause on the certificate
 * ("its chain is longer…"); undefined for the codes that mean an issuer not trusted (or none
 * known), whose fix is the CA.
 */
export function chainRuleFix(code: string): string | undefined {
  const rule = CHAIN_RULES[code];
  if (rule !== undefined) return rule;
  const crl = CRL_FAULTS[code];
  if (crl !== undefined)
    return `it was checked against revocation lists, and ${crl} (${code}). Give the verifier a current revocation list from that CA.`;
  return undefined;
}

/** Alerts an upstream sends for the client certificate it was given (RFC 8446 §6.2). */
const REFUSED_CERTIFICATE = new Set([
  'bad_certificate',
  'unsupported_certificate',
  'certificate_revoked',
  'certificate_expired',
  'certificate_unknown',
  'unknown_ca',
  'access_denied',
]);

/**
 * The fix for a TLS alert that is about the client certificate (mTLS), by whether the gateway
 * presents one (the upstream's `tls.cert`); undefined for any other alert. TLS 1.3's
 * `certificate_required` says it plainly; under TLS 1.2 a server wanting a certificate that
 * got none sends `handshake_failure`, which a version or cipher mismatch sends too.
 */
export function clientCertificateAlertFix(alert: string | undefined, presented: boolean): string | undefined {
  if (alert === 'certificate_required')
    return presented
      ? 'the upstream asked for a client certificate and took none of what the gateway presents (tls.cert): check that its CA is one the upstream trusts.'
      : 'the upstream ended the TLS handshake with the alert "certificate_required": it requires a client certificate (mTLS), and the gateway presents none. Give the upstream tls.cert and tls.key, a certificate from a CA the upstream trusts.';
  if (alert === 'handshake_failure' && !presented)
    return 'the upstream ended the TLS handshake with the alert "handshake_failure": under TLS 1.2 an upstream that requires a client certificate (mTLS) says so when none comes, and the gateway presents none (no tls.cert). If it uses mTLS, give the upstream tls.cert and tls.key; else check its protocol versions and ciphers.';
  if (alert !== undefined && presented && REFUSED_CERTIFICATE.has(alert))
    return `the upstream refused the client certificate the gateway presents (tls.cert) with the alert "${alert}": check that it is signed by a CA the upstream trusts, is within its dates and not revoked.`;
  return undefined;
}
