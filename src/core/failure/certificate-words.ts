import net from 'node:net';

/**
 * What was wrong with an upstream's certificate, in plain words, from the error Node gives when
 * it refused one: the details of a `tls_certificate_error` say it as nginx's error log does
 * ("certificate has expired", "EE certificate key too weak"), the code beside it. Node's own
 * message cannot be used as it stands: it tells the reader to run Node with --use-system-ca.
 */

/**
 * Every code Node gives a certificate its verification refused (X509ErrorCode in its
 * crypto_common.cc: OpenSSL's X509_V_ERR_* by name, UNSPECIFIED for one it has no name for; not
 * OUT_OF_MEM, the verifier's own trouble), and the name check's, with what each says of the
 * certificate. One left out was told as tls_protocol_error, a handshake gone wrong, where a chain
 * longer than its root CA allows (PATH_LENGTH_EXCEEDED) is a certificate to fix.
 */
const CERTIFICATE_WORDS: Readonly<Record<string, string>> = {
  UNABLE_TO_GET_ISSUER_CERT: "its issuer's certificate is not among the trusted CAs",
  UNABLE_TO_GET_CRL: 'no revocation list was found for it',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'its signature could not be read',
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: "a revocation list's signature could not be read",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "its issuer's public key could not be read",
  CERT_SIGNATURE_FAILURE: 'its signature does not verify',
  CRL_SIGNATURE_FAILURE: "a revocation list's signature does not verify",
  CERT_NOT_YET_VALID: 'it is not valid yet: its start date is ahead of the clock',
  CERT_HAS_EXPIRED: 'it has expired',
  CRL_NOT_YET_VALID: 'a revocation list is not valid yet',
  CRL_HAS_EXPIRED: 'a revocation list has expired',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'its start date is malformed',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'its end date is malformed',
  ERROR_IN_CRL_LAST_UPDATE_FIELD: "a revocation list's last update date is malformed",
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: "a revocation list's next update date is malformed",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed, and not among the trusted CAs',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a self-signed root that is not among the trusted CAs',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    'its issuer is unknown: no trusted CA issued it, or the upstream sends no intermediate certificate',
  // Both an unknown CA's leaf and a chain sent without its intermediate end here (nginx: "unable
  // to verify the first certificate"): the words name both.
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'its issuer is unknown: no trusted CA signed it, or the upstream sends it without its intermediate certificate',
  CERT_CHAIN_TOO_LONG: 'its chain is too long',
  CERT_REVOKED: 'it is revoked',
  INVALID_CA: 'a certificate of its chain signs others without being a CA',
  PATH_LENGTH_EXCEEDED: "its chain is longer than its CA's path length allows",
  INVALID_PURPOSE: 'its extended key usage is not for a TLS server',
  CERT_UNTRUSTED: 'its root is not trusted for a TLS server',
  CERT_REJECTED: 'its root is marked to refuse a TLS server',
  HOSTNAME_MISMATCH: 'it is not for the name the gateway asked for',
  UNSPECIFIED: '',
  ERR_TLS_CERT_ALTNAME_INVALID: '',
};

/** OpenSSL's words for the refusals Node names UNSPECIFIED that are common enough to say plainly. */
const UNSPECIFIED_WORDS: Readonly<Record<string, string>> = {
  'EE certificate key too weak': 'its key is too weak',
  'CA certificate key too weak': "its CA's key is too weak",
  'CA signature digest algorithm too weak': 'it is signed with too weak a digest, as SHA-1 or MD5',
};

/** The DNS names a certificate's SAN list (or else its CN) names, at most three of them. */
function namesOf(cert: { subjectaltname?: string; subject?: { CN?: string } } | undefined): string {
  const names = (cert?.subjectaltname ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
  if (names.length === 0)
    return cert?.subject?.CN ? `CN ${shown(cert.subject.CN)} (no DNS name)` : 'no DNS name';
  const more = names.length > 3 ? ` and ${names.length - 3} more` : '';
  return `${names.slice(0, 3).map(shown).join(', ')}${more}`;
}

/**
 * A name of the upstream's certificate as the details quote it: printable ASCII, anything else
 * `?` (as Proxy-Status writes it), at most a DNS name's 253 characters. The certificate is the
 * upstream's text: a CN of ESC and C1 sequences reached the text/plain body raw, and a client's
 * terminal obeyed them; a name of kilobytes made a Proxy-Status past what clients read.
 */
function shown(name: string): string {
  const cut = name.length > 253 ? `${name.slice(0, 253)}...` : name;
  return cut.replace(/[^\x20-\x7e]/g, '?');
}

/** Plain words and the code of a certificate Node refused (`certificate rejected: …`); undefined for an error that is none. */
export function certificateProblem(err: unknown, code: string): string | undefined {
  const words = CERTIFICATE_WORDS[code];
  if (words === undefined) return undefined;
  if (words !== '') return `${words} (${code})`;
  const message = (err as Error | undefined)?.message ?? '';
  if (code === 'UNSPECIFIED') {
    const plain = UNSPECIFIED_WORDS[message];
    return plain === undefined ? `${message || 'unnamed'} (${code})` : `${plain} (${message}, ${code})`;
  }
  // The name check's error carries the name asked for and the certificate (tls.checkServerIdentity).
  // An address is not said: details reach clients, who may not see internal hosts.
  const { host, cert } = err as { host?: string; cert?: { subjectaltname?: string } };
  const asked = host === undefined || net.isIP(host) !== 0 ? "the target's address" : host;
  return `it is for ${namesOf(cert)}, not for ${asked} (${code})`;
}
