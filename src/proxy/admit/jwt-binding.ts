import { createHash, type X509Certificate } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { JwtAuthConfig } from '../../core/config/types.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';

/** Why a good token's binding refuses it: the log's code (jose's, with which claim and rule) and what the client is told. */
export interface BindingRefusal {
  readonly invalid: string;
  readonly details: string;
}

/** RFC 8705 §3.1: base64url of a SHA-256 (32 bytes), unpadded, in its one spelling (the last character carries 2 bits, 4 zero). */
const THUMBPRINT = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

const CLAIM = 'ERR_JWT_CLAIM_VALIDATION_FAILED';
const OTHER_CERTIFICATE = 'the bearer token is bound to a client certificate this connection did not present';
const UNCHECKABLE = 'the bearer token has a confirmation (cnf) claim the gateway cannot check';

const NOT_THIS_CERTIFICATE: BindingRefusal = {
  invalid: `${CLAIM} (cnf x5t#S256 is not the client certificate's)`,
  details: OTHER_CERTIFICATE,
};
const NO_CERTIFICATE: BindingRefusal = {
  invalid: `${CLAIM} (cnf x5t#S256 and no verified client certificate)`,
  details: OTHER_CERTIFICATE,
};
const NOT_A_THUMBPRINT: BindingRefusal = {
  invalid: `${CLAIM} (cnf x5t#S256 is not a SHA-256 thumbprint)`,
  details: UNCHECKABLE,
};
const NOT_CONFIRMATION: BindingRefusal = {
  invalid: `${CLAIM} (cnf is not a confirmation object)`,
  details: UNCHECKABLE,
};
const UNBOUND: BindingRefusal = {
  invalid: `${CLAIM} (no cnf x5t#S256 claim: bound_tokens require)`,
  details: 'the bearer token is not bound to a client certificate, and this route takes only bound ones',
};

/** Thumbprints by certificate: every request of a connection reads the same one. */
const thumbprints = new WeakMap<X509Certificate, string>();

/**
 * Whether a good token may be used on this connection (RFC 8705 §3): a `cnf` claim (RFC 7800)
 * holding `x5t#S256` binds it to the client certificate of that thumbprint, which the connection
 * must have presented and its listener verified (a certificate the listener refused is no
 * client's, as it is told to no upstream). Every confirmation method `cnf` names must be checked:
 * one the gateway cannot check (`jkt`, RFC 9449's DPoP key; `jwk`, `jwe`, `kid`) refuses the
 * token as an unknown `crit` does, or a stolen DPoP-bound token, sent as a bearer one, would be
 * good from anyone (RFC 9449 §7.2's downgrade). Checked on each request, never remembered with
 * the token: the token is the same on another connection, its binding is not.
 */
export function bindingRefusal(
  claims: JWTPayload,
  judged: ClientCertificate | undefined,
  mode: JwtAuthConfig['boundTokens'],
): BindingRefusal | undefined {
  if (mode === 'ignore') return undefined;
  if (!Object.hasOwn(claims, 'cnf')) return mode === 'require' ? UNBOUND : undefined;
  const cnf = claims.cnf;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return NOT_CONFIRMATION;
  const methods = Object.keys(cnf);
  if (methods.length === 0) return NOT_CONFIRMATION;
  const other = methods.find((method) => method !== 'x5t#S256');
  if (other !== undefined)
    return { invalid: `${CLAIM} (cnf ${other.slice(0, 32)} cannot be checked)`, details: UNCHECKABLE };
  const bound = (cnf as Record<string, unknown>)['x5t#S256'];
  if (typeof bound !== 'string' || !THUMBPRINT.test(bound)) return NOT_A_THUMBPRINT;
  const certificate = judged?.refused === undefined ? judged?.certificate : undefined;
  if (certificate === undefined) return NO_CERTIFICATE;
  return thumbprintOf(certificate) === bound ? undefined : NOT_THIS_CERTIFICATE;
}

function thumbprintOf(certificate: X509Certificate): string {
  let thumbprint = thumbprints.get(certificate);
  if (thumbprint === undefined) {
    thumbprint = createHash('sha256').update(certificate.raw).digest('base64url');
    thumbprints.set(certificate, thumbprint);
  }
  return thumbprint;
}
