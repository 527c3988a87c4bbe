import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

/**
 * What a gateway knows of the CA its ACME directory issues with, learned from the chains it
 * downloaded itself (over the CA's HTTPS, from its own orders) and kept in acme.storage: the
 * issuing certificates (every certificate of a chain after the leaf) and the longest lifetime
 * the CA gave. It is the only ground for taking a certificate another gateway put in the fleet's
 * Redis: a value there may have been written by any hand (a staging gateway on the same Redis,
 * anyone who can write to it), so it is taken only when it is what this gateway's own CA would
 * have given it (trustedChain).
 */
export interface CaIssuers {
  /** PEM, newest first, at most MAX_ISSUERS. */
  readonly issuers: readonly string[];
  /** The longest notAfter − notBefore of a certificate this gateway got from the directory. */
  readonly longestMs: number;
}

/** A CA rotates among a few intermediates (Let's Encrypt's R10…R14): the last few are kept. */
const MAX_ISSUERS = 8;
/**
 * The longest lifetime taken from the fleet by a gateway that has no chain of its own CA yet:
 * 398 days, the CA/Browser Forum's ceiling for a publicly trusted certificate issued before
 * March 2026 (shorter since); no ACME CA gives more.
 */
const PUBLIC_MAX_LIFETIME_MS = 398 * 86_400_000;
/** Clocks differ: a notBefore this far ahead of this gateway's clock is still "now". */
const CLOCK_SKEW_MS = 5 * 60_000;
/**
 * Two certificates a CA gives for the same validity may differ by a second or so: an issuer reads
 * the clock once for notBefore and again for notAfter (openssl's `-days` does), and a second that
 * turns between the reads makes one a second longer. A lifetime within this of the longest seen is
 * the same; a fleet's forged long-lived certificate is months longer, not a minute.
 */
const LIFETIME_SLACK_MS = 60_000;

/** `known` with what a chain this gateway downloaded from its CA teaches. */
export function learnIssuers(known: CaIssuers | undefined, chain: string): CaIssuers {
  const [leaf, ...issuers] = certificatesOf(chain);
  const pems = issuers.map((cert) => cert.toString());
  const kept = [...pems, ...(known?.issuers ?? []).filter((pem) => !pems.includes(pem))];
  const lifetime = leaf === undefined ? 0 : lifetimeOf(leaf);
  return {
    issuers: kept.slice(0, MAX_ISSUERS),
    longestMs: Math.max(known?.longestMs ?? 0, lifetime),
  };
}

/**
 * Why the fleet's `chain` (whose leaf was already found to serve the name) is not what this
 * gateway's CA gives; undefined when it is. The rule:
 * - every certificate is signed by the next one in the chain, each after the leaf a CA's, up to
 *   a certificate that is one of the CA's issuers this gateway saw in its own orders or is
 *   signed by one of them, or by the public root those chain to (so the CA's other intermediates
 *   under the same root are taken too);
 * - a gateway that never ordered from its directory yet knows no issuer of it: it takes a chain
 *   up to a root its own TLS clients trust (Node's default CA certificates, the Mozilla store
 *   and NODE_EXTRA_CA_CERTS), where a production CA's certificates end and a staging CA's, a
 *   self-signed one's, never do; for a CA trusted by no one else (pebble, a private CA), each
 *   gateway orders once, and from then on knows its issuers;
 * - the leaf's notBefore is not in the future (past the clock skew) and its lifetime is no
 *   longer than the longest this gateway got from the CA (398 days when it got none).
 */
export function untrustedChain(chain: string, known: CaIssuers | undefined, now: number): string | undefined {
  const certificates = certificatesOf(chain);
  const leaf = certificates[0];
  if (leaf === undefined) return 'it holds no certificate';
  const unanchored = unanchoredChain(certificates, anchorsOf(known));
  if (unanchored !== undefined)
    return known === undefined || known.issuers.length === 0
      ? `${unanchored} up to a root this gateway trusts`
      : `${unanchored} up to the CA this gateway's orders come from`;
  const notBefore = Date.parse(leaf.validFrom);
  if (notBefore > now + CLOCK_SKEW_MS) return `it begins in the future (${leaf.validFrom})`;
  const longest = known === undefined || known.longestMs === 0 ? PUBLIC_MAX_LIFETIME_MS : known.longestMs;
  if (lifetimeOf(leaf) > longest + LIFETIME_SLACK_MS)
    return `it lasts ${days(lifetimeOf(leaf))} days, longer than the ${days(longest)} days this gateway's CA gives`;
  return undefined;
}

/** Why `certificates` does not verify, each by the next, up to one of `anchors`; undefined when it does. */
function unanchoredChain(certificates: X509Certificate[], anchors: X509Certificate[]): string | undefined {
  for (let i = 0; i < certificates.length; i++) {
    const cert = certificates[i];
    if (i > 0 && !cert.ca) return `certificate ${i + 1} of its chain is not a CA's: it does not verify`;
    if (anchors.some((anchor) => anchor.fingerprint256 === cert.fingerprint256 || signedBy(cert, anchor)))
      return undefined;
    const next = certificates[i + 1];
    if (next === undefined) break;
    if (!signedBy(cert, next))
      return `certificate ${i + 1} of its chain is not signed by the next one: it does not verify`;
  }
  return `its chain (issued by ${oneLine(certificates.at(-1)?.issuer)}) does not verify`;
}

/** The CA's issuers this gateway saw, and the public roots they chain to; every public root when it saw none. */
function anchorsOf(known: CaIssuers | undefined): X509Certificate[] {
  const issuers = (known?.issuers ?? []).flatMap((pem) => certificatesOf(pem));
  if (issuers.length === 0) return publicRoots();
  const roots = publicRoots().filter((root) => issuers.some((issuer) => signedBy(issuer, root)));
  return [...issuers, ...roots];
}

let roots: X509Certificate[] | undefined;

/** Node's default CA certificates, parsed once: what this process's own TLS clients trust. */
function publicRoots(): X509Certificate[] {
  roots ??= tls.getCACertificates('default').flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
  return roots;
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Every certificate of a PEM chain, in order; what does not parse is left out. */
export function certificatesOf(chain: string): X509Certificate[] {
  const blocks = chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  return blocks.flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });
}

function lifetimeOf(cert: X509Certificate): number {
  return Date.parse(cert.validTo) - Date.parse(cert.validFrom);
}

function days(ms: number): number {
  return Math.round(ms / 86_400_000);
}

function oneLine(name: string | undefined): string {
  return (name ?? 'nothing').replace(/\n/g, ', ');
}
