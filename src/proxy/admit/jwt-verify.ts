import { verify } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { normalTyp } from '../../core/config/policy-values.ts';
import { JwkSet } from './jwk-set.ts';
import { JWS_ALGORITHMS } from './jws-algorithms.ts';

/** What a route asks of a token besides its signature. */
export interface JwtRules {
  readonly algorithms: ReadonlySet<string>;
  readonly issuer?: string;
  readonly audiences?: readonly string[];
  /** Milliseconds of clock difference tolerated on exp and nbf. */
  readonly clockSkew: number;
  /** A token without `exp` is refused (jose's `requiredClaims: ['exp']`): one would be good for ever. */
  readonly requireExp: boolean;
  /** The header `typ` values accepted, each as normalTyp writes it (no typ: `application/jwt`); undefined: any. */
  readonly types?: ReadonlySet<string>;
}

/** The token's claims, or why it is not good: the code jose gives the same failure (the log has always named those). */
export type JwtCheck = { readonly claims: JWTPayload } | { readonly invalid: string };

const JWS_INVALID = { invalid: 'ERR_JWS_INVALID' } as const;
const JWT_INVALID = { invalid: 'ERR_JWT_INVALID' } as const;
const NOT_SUPPORTED = { invalid: 'ERR_JOSE_NOT_SUPPORTED' } as const;
const ALG_NOT_ALLOWED = { invalid: 'ERR_JOSE_ALG_NOT_ALLOWED' } as const;
const SIGNATURE_FAILED = { invalid: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' } as const;
const EXPIRED = { invalid: 'ERR_JWT_EXPIRED' } as const;
/**
 * jose's code for a claim refused, with which and by what rule: the code alone is that of any
 * claim refused, and an operator whose tokens a default began to refuse (require_exp, types)
 * could not tell which. jose's own `claim` names the same one (test/proxy/admit/jwt-verify.test.ts).
 */
const NO_EXP = { invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (no exp claim: require_exp)' } as const;
const BAD_TYP = { invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (typ is none of types)' } as const;
const BAD_ISS = { invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (iss is not issuer)' } as const;
const BAD_AUD = { invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (aud names none of audiences)' } as const;
const EARLY_NBF = {
  invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (nbf is ahead of the clock: clock_skew)',
} as const;
const IAT_NAN = { invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (iat is not a number)' } as const;
const NBF_NAN = { invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (nbf is not a number)' } as const;
const EXP_NAN = { invalid: 'ERR_JWT_CLAIM_VALIDATION_FAILED (exp is not a number)' } as const;

/** No key at all: what keylessRefusal checks a token's form against. */
const NO_KEYS = new JwkSet({ keys: [] });

/** UTF-8 that refuses malformed bytes (a header or claims set that is not UTF-8 is not JSON). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A compact JWS JWT (RFC 7515 §7.1, RFC 7519 §7.2) checked synchronously with node:crypto,
 * against keys imported once (jwk-set.ts), deciding as jose's `jwtVerify` (which Candor used
 * before) decides, with the same codes (test/proxy/admit/jwt-verify.test.ts compares both on
 * mutated tokens), without its WebCrypto round trip, which made a fresh RS256 token cost the
 * gateway about four times its signature check (bench/access-cost.ts, bench/jwt-verify.ts).
 *
 * In jose's order: three segments; the protected header a JSON object; `crit` naming only
 * what is understood (`b64`, RFC 7515 §4.1.11, and `b64: false` is never a JWT, RFC 7797 §7);
 * `alg` one the route allows; the keys chosen by kid and alg; the signature by one of them; then the claims
 * set a JSON object; the header's `typ` one the route accepts (RFC 8725 §3.11: another kind of
 * token the issuer signs with the same key, an ID token, a logout token, a DPoP proof, is no
 * access token; jose's check of its `typ` option, which takes one value); `iss` and `aud` as
 * configured, `exp` present unless the route lets a token go without, `iat`, `nbf`, `exp`
 * numbers when present, `nbf` and `exp` within the clock skew.
 */
export function verifyJwt(token: string, keys: JwkSet, rules: JwtRules): JwtCheck {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) return JWS_INVALID;
  const header = jsonObject(token.slice(0, first));
  if (header === undefined) return JWS_INVALID;
  const crit = header.crit;
  if (crit !== undefined) {
    if (
      !Array.isArray(crit) ||
      crit.length === 0 ||
      crit.some((name) => typeof name !== 'string' || name.length === 0)
    )
      return JWS_INVALID;
    for (const name of crit) {
      if (name !== 'b64') return NOT_SUPPORTED;
      if (header.b64 === undefined) return JWS_INVALID;
    }
    if (typeof header.b64 !== 'boolean') return JWS_INVALID;
    if (!header.b64) return JWT_INVALID;
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === '') return JWS_INVALID;
  const algorithm = rules.algorithms.has(alg) ? JWS_ALGORITHMS.get(alg) : undefined;
  if (algorithm === undefined) return ALG_NOT_ALLOWED;
  const chosen = keys.choose(algorithm, header.kid);
  if ('invalid' in chosen) return chosen;
  // The header decoded as base64url, so only the payload or the signature can hold these.
  if (NON_ASCII.test(token)) return JWS_INVALID;
  const signature = fromBase64url(token.slice(second + 1));
  if (signature === undefined) return JWS_INVALID;
  const readable = algorithm.toOpenSsl === undefined ? signature : algorithm.toOpenSsl(signature);
  const signed = Buffer.from(token.slice(0, second), 'latin1');
  // Each key the header leaves possible, in turn (a kid-less token in a rotation: jwk-set.ts);
  // an RSA key too small for the algorithm is none the token may be good by.
  let good = false;
  let tried = false;
  for (const { key, rsaBits } of chosen.keys) {
    if (algorithm.minRsaBits !== undefined && (rsaBits ?? 0) < algorithm.minRsaBits) continue;
    tried = true;
    if (readable !== undefined)
      try {
        good = verify(algorithm.digest, signed, key, readable);
      } catch {
        // A signature OpenSSL cannot read is not a good one.
      }
    if (good) break;
  }
  if (!tried) return JWT_INVALID;
  if (!good) return SIGNATURE_FAILED;
  const payload = fromBase64url(token.slice(first + 1, second));
  if (payload === undefined) return JWS_INVALID;
  const claims = jsonObject(payload);
  if (claims === undefined) return JWT_INVALID;
  if (rules.types !== undefined && !typeAccepted(header.typ, rules.types)) return BAD_TYP;
  return claimsProblem(claims, rules) ?? { claims };
}

/**
 * Whether the key set fetched again could make good a token `checked` refused: its `kid` is not
 * in the set, or it names none and no key of the set verified its signature (an issuer that puts
 * no kid in its tokens signing with a key it published after the set was fetched: for it, that is
 * all a rotation looks like). A kid the set holds whose key refuses the signature is the token's
 * own fault, asked of nobody.
 */
export function newerKeysMayVerify(token: string, checked: JwtCheck): boolean {
  if (!('invalid' in checked)) return false;
  if (checked.invalid === 'ERR_JWKS_NO_MATCHING_KEY') return true;
  if (checked.invalid !== SIGNATURE_FAILED.invalid) return false;
  // The header read before (a signature is checked only once it is a JSON object).
  return jsonObject(token.slice(0, token.indexOf('.')))?.kid === undefined;
}

/**
 * Why no key could make this token good, read before its signature is checked (where the keys
 * are yet to be fetched): not a compact JWS, an `alg` or `crit` the rules refuse, or a claims
 * set or `typ` they refuse (expired, another issuer or audience, a logout token); undefined when
 * a key decides. Such a token is the client's 401 whether its signature is good or not, so the
 * JWKS endpoint failing is no verdict on it. Checked unsigned only to refuse, never to admit.
 */
export function keylessRefusal(token: string, rules: JwtRules): JwtCheck | undefined {
  const formed = verifyJwt(token, NO_KEYS, rules);
  if ('invalid' in formed && formed.invalid !== 'ERR_JWKS_NO_MATCHING_KEY') return formed;
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  const header = jsonObject(token.slice(0, first)) as Record<string, unknown>;
  const payload = fromBase64url(token.slice(first + 1, second));
  const claims = payload === undefined ? undefined : jsonObject(payload);
  // A payload that does not read is for the full check to name, after the keys.
  if (claims === undefined) return undefined;
  if (rules.types !== undefined && !typeAccepted(header.typ, rules.types)) return BAD_TYP;
  return claimsProblem(claims, rules);
}

/** Whether the header's `typ` is one of `types`: none counts as a plain JWT (RFC 7519 §5.1); one not a string is none of them. */
function typeAccepted(typ: unknown, types: ReadonlySet<string>): boolean {
  if (typ === undefined) return types.has('application/jwt');
  return typeof typ === 'string' && types.has(normalTyp(typ));
}

/** Why the claims set does not pass the route's rules, or undefined. */
function claimsProblem(claims: JWTPayload, rules: JwtRules): JwtCheck | undefined {
  const { issuer, audiences } = rules;
  // In jose's order, so that the claim named is the one it names: the claims required present
  // (iss, aud, then exp), then iss's and aud's values.
  if (issuer !== undefined && !Object.hasOwn(claims, 'iss')) return BAD_ISS;
  if (audiences !== undefined && !Object.hasOwn(claims, 'aud')) return BAD_AUD;
  // A token that never expires, leaked once, is good for ever (RFC 8725 §3.10 asks for exp on access tokens).
  if (rules.requireExp && !Object.hasOwn(claims, 'exp')) return NO_EXP;
  if (issuer !== undefined && claims.iss !== issuer) return BAD_ISS;
  if (audiences !== undefined) {
    const aud = claims.aud;
    const named =
      typeof aud === 'string'
        ? audiences.includes(aud)
        : Array.isArray(aud) && audiences.some((one) => aud.includes(one));
    if (!named) return BAD_AUD;
  }
  // NumericDate is seconds (RFC 7519 §2): the clock read as jose reads it, whole seconds.
  const now = Math.floor(Date.now() / 1000);
  const skew = rules.clockSkew / 1000;
  const { iat, nbf, exp } = claims;
  if (iat !== undefined && typeof iat !== 'number') return IAT_NAN;
  if (nbf !== undefined && typeof nbf !== 'number') return NBF_NAN;
  if (nbf !== undefined && nbf > now + skew) return EARLY_NBF;
  if (exp !== undefined && typeof exp !== 'number') return EXP_NAN;
  if (exp !== undefined && exp <= now - skew) return EXPIRED;
  return undefined;
}

/** A base64url segment as bytes, read as jose reads it (padding and ASCII whitespace tolerated); undefined when it is not base64url. */
function fromBase64url(text: string): Buffer | undefined {
  let plain = text;
  if (!BASE64URL.test(plain)) {
    // The forgiving decode jose falls back on (atob's, WHATWG): whitespace out, then up to two `=` at the end.
    plain = plain.replace(/[\t\n\f\r ]/g, '');
    if (plain.length % 4 === 0) plain = plain.replace(/={1,2}$/, '');
    if (!BASE64URL.test(plain)) return undefined;
  }
  if (plain.length % 4 === 1) return undefined;
  return Buffer.from(plain, 'base64url');
}

/** A segment that is a base64url JSON object (a JOSE header, a claims set), or undefined. */
function jsonObject(segment: string | Buffer): Record<string, unknown> | undefined {
  const bytes = typeof segment === 'string' ? fromBase64url(segment) : segment;
  if (bytes === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(bytes));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
