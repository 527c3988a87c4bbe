/**
 * The revocation lists of a PEM text, each a string of its own: node:tls reads the first list of
 * each string its `crl` is given and no other, so a file holding one list from each CA of a
 * chain, given whole, would check the first CA's certificates and find no list for the others'.
 */
export function crlsIn(pem: string): string[] {
  return pem.match(/-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g) ?? [];
}
