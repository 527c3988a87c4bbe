import type { X509Certificate } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { ClientCertificateAuthConfig, ClientCertificateSan } from '../../core/config/types.ts';
import { type ClientCertificate, NO_CERTIFICATE } from '../../core/net/client-certificate.ts';
import { canonicalIPv6 } from '../../core/net/ip-address.ts';
import { identityOf } from './identity.ts';

/** What a route's client-certificate rule made of a request's connection. */
export type CertificateVerdict =
  | { readonly identity: string | undefined }
  /** `details`: what the client is told (its 403's); `note`: what the log says. */
  | { readonly refused: { readonly details: string; readonly note: string } };

const UNTRUSTED = 'it is not issued by a certificate authority this gateway trusts';

/**
 * OpenSSL's verdicts a client can act on, in plain words; any other is "could not be verified".
 * Not "not trusted" for them all: a certificate of the trusted CA issued for servers only
 * (INVALID_PURPOSE) was told as another CA's, and its holder sent to look for the wrong one.
 */
const REASONS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  CERT_REVOKED: 'it has been revoked',
  CRL_HAS_EXPIRED: "the gateway's revocation list for its issuer is out of date",
  UNABLE_TO_GET_CRL: 'the gateway has no revocation list for its issuer',
  INVALID_PURPOSE: 'it is not issued for client authentication (its extended key usage)',
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  CERT_UNTRUSTED: UNTRUSTED,
  CERT_REJECTED: UNTRUSTED,
};

/**
 * `routes[].auth.client_certificate`: the connection's certificate, verified by the listener
 * (its CAs, its revocation lists: client-ca.ts), allowed by subject or SAN, names the user.
 * Every refusal is a 403 that says why (a certificate is the connection's, not a credential the
 * request could send again, so no 401 challenge): none asked, none sent, not trusted, or not
 * one this route allows.
 */
export class ClientCertificateAuth {
  readonly #subjects: ReadonlySet<string>;
  readonly #sans: readonly ClientCertificateSan[];
  readonly #identity: ClientCertificateAuthConfig['identity'];

  constructor(config: ClientCertificateAuthConfig) {
    this.#subjects = new Set(config.subjects);
    this.#sans = config.sans.map((san) => ({ type: san.type, value: comparable(san) }));
    this.#identity = config.identity;
  }

  verify(judged: ClientCertificate | undefined): CertificateVerdict {
    if (judged === undefined)
      return refused(
        "this route needs a client certificate, and this connection's listener asks for none",
        'no certificate asked',
      );
    const { certificate } = judged;
    if (judged.refused === NO_CERTIFICATE || certificate === undefined)
      return refused('this route needs a client certificate, and the connection sent none', 'no certificate');
    if (judged.refused !== undefined) {
      const reason = REASONS[judged.refused] ?? 'it could not be verified';
      return refused(`the client certificate was not accepted: ${reason}`, judged.refused);
    }
    const cn = commonName(certificate);
    const sans = subjectAltNames(certificate);
    if ((this.#subjects.size > 0 || this.#sans.length > 0) && !this.#allows(cn, sans))
      return refused(
        'the client certificate is not one this route allows',
        `subject ${cn === undefined ? '(no CN)' : JSON.stringify(cn)} not allowed`,
      );
    // Bounded as every other way's user (identityOf): a CA writes a URI or DNS SAN of any length,
    // and one of 3,000 bytes went upstream and into every log line as the user.
    return {
      identity: identityOf(
        this.#identity === 'cn' ? cn : sans.find((san) => san.type === this.#identity)?.value,
      ),
    };
  }

  #allows(cn: string | undefined, sans: readonly ClientCertificateSan[]): boolean {
    if (cn !== undefined && this.#subjects.has(cn)) return true;
    return sans.some((san) => {
      const value = comparable(san);
      return this.#sans.some((allowed) => allowed.type === san.type && value === allowed.value);
    });
  }
}

function refused(details: string, note: string): CertificateVerdict {
  return { refused: { details, note: `client certificate: ${note}` } };
}

/**
 * A value as Node writes it in a subject or a SAN list: as it is, or a JSON string when it holds
 * a character that would break the list (a comma, a quote, a line break).
 */
function unquoted(value: string): string {
  if (!value.startsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}

/**
 * The subject's common name (its last CN, the most specific, as TLS libraries read it), as the
 * certificate holds it. Node writes the subject one RDN a line, a multi-valued RDN's parts on
 * one line joined by " + " (`OU=ops + CN=device-1`), and every value with RFC 2253's escapes
 * (`CN=Smith\, John`, a `+` inside a value `\+`, a control byte `\0A`): a rule naming
 * "Smith, John", or a CN in a multi-valued RDN, met neither, and the user was named by the
 * escaped spelling.
 */
function commonName(certificate: X509Certificate): string | undefined {
  let found: string | undefined;
  for (const line of certificate.subject.split('\n'))
    for (const [type, value] of rdnParts(line)) if (type === 'CN') found = value;
  return found;
}

/**
 * The parts (type, value unescaped) of one RDN as Node writes it: `TYPE=value`, joined by " + "
 * where it is multi-valued. A `+` of a value is escaped, so only a bare one joins two parts.
 */
function rdnParts(line: string): [string, string][] {
  const parts: [string, string][] = [];
  let i = 0;
  while (i < line.length) {
    const eq = line.indexOf('=', i);
    if (eq === -1) break;
    const type = line.slice(i, eq);
    let value = '';
    i = eq + 1;
    while (i < line.length) {
      const c = line[i];
      if (c === '\\' && i + 1 < line.length) {
        const hex = line.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          value += String.fromCharCode(Number.parseInt(hex, 16));
          i += 3;
        } else {
          value += line[i + 1];
          i += 2;
        }
        continue;
      }
      if (line.startsWith(' + ', i)) break;
      value += c;
      i++;
    }
    parts.push([type, value]);
    i += 3;
  }
  return parts;
}

/** Node's names of the SAN types a route may name. */
const SAN_PREFIXES: readonly (readonly [string, ClientCertificateSan['type']])[] = [
  ['DNS:', 'dns'],
  ['email:', 'email'],
  ['URI:', 'uri'],
  ['IP Address:', 'ip'],
];

/** The certificate's subject alternative names of the types a route may name, in its order. */
function subjectAltNames(certificate: X509Certificate): ClientCertificateSan[] {
  const list = certificate.subjectAltName;
  if (list === undefined) return [];
  const out: ClientCertificateSan[] = [];
  // Entries are joined by ", "; a value holding one is JSON-quoted (unquoted()).
  for (const entry of list.match(/[^,"]+(?:"(?:[^"\\]|\\.)*")?/g) ?? []) {
    const text = entry.trimStart();
    for (const [prefix, type] of SAN_PREFIXES)
      if (text.startsWith(prefix)) {
        const value = unquoted(text.slice(prefix.length));
        out.push({ type, value: type === 'ip' ? ipText(value) : value });
      }
  }
  return out;
}

/**
 * A SAN as two spellings of one name compare equal: a DNS name without case (the rule's is
 * lower-cased by the config), an email address's host part without case and its local part
 * exactly (RFC 5280 §7.5: `ops@Example.COM` is `ops@example.com`, `OPS@example.com` may be
 * another mailbox), an IP address in its RFC 5952 form (ipText), a URI (a SPIFFE ID) exactly.
 */
function comparable(san: ClientCertificateSan): string {
  if (san.type === 'dns') return san.value.toLowerCase();
  if (san.type === 'ip') return ipText(san.value);
  if (san.type !== 'email') return san.value;
  const at = san.value.lastIndexOf('@');
  return at === -1 ? san.value : san.value.slice(0, at + 1) + san.value.slice(at + 1).toLowerCase();
}

/**
 * An IP address as addresses are written (RFC 5952: an IPv6 one compressed, lower case): Node
 * writes a certificate's IPv6 SAN in full and upper case (`2001:DB8:0:0:0:0:0:1`), so a rule
 * naming `ip:2001:db8::1` never met it, and the user it named was spelled as no log or app does.
 */
function ipText(value: string): string {
  return isIPv6(value) ? canonicalIPv6(value) : value;
}
