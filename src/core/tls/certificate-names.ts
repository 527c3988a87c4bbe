import { X509Certificate } from 'node:crypto';

/**
 * The DNS names a certificate (the first of a PEM chain) is served for by SNI, lower-cased: its
 * DNS subject alternative names, else its common name (`*.example.com` among them as written).
 */
export function servedNames(pem: Buffer | string): string[] {
  const cert = new X509Certificate(pem);
  const dns = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}
