/**
 * A client certificate taken from the TLS terminator in front (`listen[].client_certificates_from:
 * forwarded`): RFC 9440's `Client-Cert` (and `Client-Cert-Chain`), believed from a proxy in
 * `trust_forwarded_from` only, and then the request's certificate exactly as one its listener's
 * own handshake verified (a route's `auth.client_certificate`, the identity, the fields the
 * upstream is told).
 */
import { X509Certificate } from 'node:crypto';
import { Failure } from '../../core/failure/failure.ts';
import { PARAMETERS } from '../../core/failure/structured-field.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';
import { NO_CERTIFICATE } from '../../core/net/client-certificate.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { ListenerFacts } from './request-handlers.ts';

/** None sent, or none believed (a client's own copy): a route that requires one answers 403. */
const NONE: ClientCertificate = Object.freeze({ certificate: undefined, refused: NO_CERTIFICATE, chain: [] });

/**
 * One byte sequence (RFC 8941 §3.3.5: base64 between colons) and the parameters an item may carry
 * (RFC 9440 defines none; they are read past), then the end or a list's comma. Its `=` padding
 * may be left out (§4.2.7: a parser should not fail for it, as many encoders omit it); a lone
 * last character, which no padding could complete, is no base64.
 */
const MEMBER = new RegExp(
  `[ \\t]*:((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?):${PARAMETERS}[ \\t]*(,|$)`,
  'y',
);

/**
 * The request's head with the certificate its listener takes from a trusted proxy (one that
 * cannot be read `unreadable`, which the accept phase answers: forwardedCertificateRefusal); the
 * head as it came on a listener that takes none that way. From a peer not in
 * `trust_forwarded_from` nothing is believed: its copies are dropped on the way upstream as every
 * client's are (request-headers.ts), unread, so a client's garbage is not a refusal but no
 * certificate.
 */
export function withForwardedCertificate(
  listener: ListenerFacts,
  head: DownstreamHead,
  peer: string,
  fields: FieldMap,
  trust: TrustList,
): DownstreamHead {
  if (listener.clientCertificatesFrom !== 'forwarded') return head;
  return { ...head, clientCertificate: trust.has(peer) ? forwardedCertificate(fields) : NONE };
}

/** The 400 for a certificate a trusted proxy forwarded that cannot be read, or undefined. */
export function forwardedCertificateRefusal(head: DownstreamHead): Failure | undefined {
  const unreadable = head.clientCertificate?.unreadable;
  return unreadable === undefined
    ? undefined
    : new Failure('http_request_error', unreadable, { status: 400 });
}

/**
 * The certificate a trusted proxy vouches for. What it sent and cannot be read is a 400, not
 * "none": the proxy said a certificate was presented, and answering as if none was would hide a
 * broken terminator behind a route's 403 (and let a route without `client_certificate` serve a
 * request whose upstream is told nothing of it).
 */
function forwardedCertificate(fields: FieldMap): ClientCertificate {
  const cert = fields['client-cert'];
  const chain = fields['client-cert-chain'];
  if (cert === undefined)
    // RFC 9440 §2.3: Client-Cert-Chain must not appear unless Client-Cert is also present.
    return chain === undefined ? NONE : unreadable('a forwarded Client-Cert-Chain without Client-Cert');
  // Two Client-Cert fields were joined into a list (fieldMap), which is no one item: refused too.
  const leaf = typeof cert === 'string' ? byteSequences(cert) : undefined;
  if (leaf?.length !== 1)
    return unreadable('the forwarded Client-Cert is not one byte sequence (RFC 9440 §2.2: :base64 DER:)');
  const issuers = chain === undefined ? [] : typeof chain === 'string' ? byteSequences(chain) : undefined;
  if (issuers === undefined)
    return unreadable('the forwarded Client-Cert-Chain is not a list of byte sequences (RFC 9440 §2.3)');
  const certificate = x509(leaf[0]);
  if (certificate === undefined) return unreadable('the forwarded Client-Cert holds no X.509 certificate');
  const read = issuers.map(x509);
  if (read.includes(undefined))
    return unreadable('the forwarded Client-Cert-Chain holds something that is no X.509 certificate');
  return { certificate, refused: undefined, chain: read as X509Certificate[] };
}

/** The DER of each member of an sf-list of byte sequences (an item is a list of one), or undefined. */
function byteSequences(value: string): Buffer[] | undefined {
  const out: Buffer[] = [];
  MEMBER.lastIndex = 0;
  while (MEMBER.lastIndex < value.length || out.length === 0) {
    const match = MEMBER.exec(value);
    if (match === null) return undefined;
    out.push(Buffer.from(match[1], 'base64'));
    // The end of the value: a trailing comma leaves an empty member, which a list may not hold.
    if (match[2] === '') return MEMBER.lastIndex === value.length ? out : undefined;
  }
  return undefined;
}

function x509(der: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

/** None, and why: the 400's words. */
function unreadable(details: string): ClientCertificate {
  return { ...NONE, unreadable: details };
}
