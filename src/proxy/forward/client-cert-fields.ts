/**
 * The client's TLS certificate as the upstream reads it: RFC 9440's `Client-Cert` and
 * `Client-Cert-Chain`, written by this hop for a certificate its listener verified, and every
 * field in which some TLS terminator passes a client certificate on, which no client may write.
 */
import type { ClientCertificate } from '../../core/net/client-certificate.ts';

/**
 * The fields in which a terminator that checked a client certificate passes it on: nginx's
 * `$ssl_client_*` set by hand (X-SSL-Client-*, X-Client-*), IIS ARR's X-ARR-ClientCert, Apache's
 * SSL_CLIENT_*, RFC 9440's Client-Cert, an AWS ALB's X-Amzn-Mtls-*, Envoy's
 * X-Forwarded-Client-Cert, Traefik's X-Forwarded-Tls-Client-Cert(-Info), a Google Cloud load
 * balancer's mTLS custom headers (X-Client-Cert-Present, -Chain-Verified, -Subject-DN, -Hash,
 * -Spiffe…: its operator names them, these are the names its documentation gives), Cloudflare's
 * Cf-Client-Cert-Der-Base64 and -Sha256. An app behind it takes
 * a certificate there, and a `SUCCESS` verify, as the terminator's word, so a client's own would
 * be a login as whoever it names.
 */
const CERTIFICATE_FIELDS: ReadonlySet<string> = new Set([
  'x-ssl-cert',
  'x-client-cert',
  'x-client-verify',
  'x-client-dn',
  'x-arr-clientcert',
  'client-cert',
  'client-cert-chain',
  'x-forwarded-client-cert',
]);

/** Whole families, by their first words. */
const CERTIFICATE_PREFIXES = [
  'x-ssl-client-',
  'ssl-client-',
  'x-amzn-mtls-',
  'x-forwarded-tls-client-cert',
  'x-client-cert-',
  'cf-client-cert-',
];

/** Every name and first words of a family above: what a quick filter of names needs to know of them. */
export const CERTIFICATE_NAMES_AND_PREFIXES: readonly string[] = [
  ...CERTIFICATE_FIELDS,
  ...CERTIFICATE_PREFIXES,
];

/** Whether a (lower-case, dashed) field name is one a terminator passes a client certificate in. */
export function isClientCertificateField(lower: string): boolean {
  return CERTIFICATE_FIELDS.has(lower) || CERTIFICATE_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/** Each connection's fields, made at its first request. */
const made = new WeakMap<ClientCertificate, readonly string[]>();

/**
 * The fields (flat name, value) that tell the upstream a verified certificate: `Client-Cert`, the
 * DER as a Structured Field byte sequence (RFC 8941 §3.3.5, `:base64:`), and `Client-Cert-Chain`,
 * a list of them, its issuer first (none when the CA file holds no issuer of it). None for a
 * certificate not verified.
 */
export function clientCertFields(judged: ClientCertificate): readonly string[] {
  if (judged.refused !== undefined || judged.certificate === undefined) return [];
  let fields = made.get(judged);
  if (fields === undefined) {
    const cert = ['client-cert', byteSequence(judged.certificate.raw)];
    fields =
      judged.chain.length === 0
        ? cert
        : [...cert, 'client-cert-chain', judged.chain.map((ca) => byteSequence(ca.raw)).join(', ')];
    made.set(judged, fields);
  }
  return fields;
}

function byteSequence(der: Buffer): string {
  return `:${der.toString('base64')}:`;
}
