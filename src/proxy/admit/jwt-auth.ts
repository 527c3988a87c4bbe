import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWTPayload } from 'jose';
import type { JwtAuthConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { cookieValue, withoutCookie } from '../../core/http1/cookie.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { ClaimFields } from './claim-fields.ts';
import { JwkSet } from './jwk-set.ts';
import type { RemoteJwks } from './jwks-source.ts';
import { type BindingRefusal, bindingRefusal } from './jwt-binding.ts';
import { type JwtCheck, type JwtRules, keylessRefusal, newerKeysMayVerify, verifyJwt } from './jwt-verify.ts';

/** Longer than any token worth verifying: past it the field is not read. */
const MAX_TOKEN = 16 * 1024;
/** Good tokens remembered per route (as Envoy's jwt_authn keeps a cache of verified tokens). */
const MAX_REMEMBERED = 1024;
/**
 * However long a good token has left, its signature is checked again after this: a key taken
 * out of the set (a leaked one) stops its tokens within a minute, not at their `exp`.
 */
const REMEMBERED_MS = 60_000;

/** A good token: its claims, and (once verify tags it) the token and whether it came from the cookie rather than Authorization. */
export interface JwtGood {
  readonly claims: JWTPayload;
  readonly fromCookie?: boolean;
  readonly token?: string;
}

/**
 * What the token said: a good token, or why it is not good (for the log; a binding's refusal
 * also says what the client is told), or the auth hop's failure.
 */
export type JwtVerdict =
  | JwtGood
  | { readonly missing: string }
  | { readonly invalid: string }
  | BindingRefusal
  | { readonly failed: Failure };

/**
 * Bearer tokens (JWT, RFC 7519) verified against a route's keys (jwt-verify.ts): from a JWKS URL
 * (jwks-source.ts) or a file. Only key-pair algorithms are offered (the schema refuses none
 * and HMAC), the header's typ one of the route's types, issuer and audiences checked when
 * configured, exp/nbf with the clock skew allowed.
 * With the keys at hand (the usual case: cached), the check is synchronous.
 * A token found good is remembered by its SHA-256 until its `exp` (with the skew) or for
 * REMEMBERED_MS, whichever comes first: a client's every request does not pay the signature
 * again (the cost of an RS256 or ES256 check is most of a JWT route's).
 */
export class JwtAuth {
  readonly #config: JwtAuthConfig;
  readonly #remote: RemoteJwks | undefined;
  readonly #local: JwkSet | undefined;
  readonly #rules: JwtRules;
  readonly #claimFields: ClaimFields;
  /** Good tokens by their SHA-256: their claims, and until when (Date.now()) they stand. */
  readonly #remembered = new Map<string, { readonly claims: JWTPayload; readonly until: number }>();

  /** `jwks` gives the key set of a URL: one per URL and refresh interval, kept across reloads. */
  constructor(config: JwtAuthConfig, jwks: (config: JwtAuthConfig) => RemoteJwks | undefined) {
    this.#config = config;
    this.#claimFields = new ClaimFields(config.claimsToHeaders);
    this.#remote = jwks(config);
    this.#local =
      config.keysFile === undefined
        ? undefined
        : new JwkSet(JSON.parse(readFileSync(config.keysFile, 'utf8')));
    this.#rules = {
      algorithms: new Set(config.algorithms),
      ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
      ...(config.audiences === undefined ? {} : { audiences: config.audiences }),
      clockSkew: config.clockSkew,
      requireExp: config.requireExp,
      types: new Set(config.types),
    };
  }

  /** `certificate`: the connection's client certificate, which a bound token must be used with (jwt-binding.ts). */
  verify(fields: FieldMap, certificate?: ClientCertificate): JwtVerdict | Promise<JwtVerdict> {
    const authorization = fields.authorization;
    // A token was sent, too long to be read: a bad one (RFC 6750 §3.1 invalid_token), not none.
    if (
      typeof authorization === 'string' &&
      authorization.length > MAX_TOKEN &&
      /^bearer /i.test(authorization)
    )
      return { invalid: `a bearer token over ${MAX_TOKEN} bytes` };
    const bearer = this.#bearer(authorization);
    const token = bearer ?? this.#cookieToken(fields);
    if (token === undefined) return { missing: 'no token' };
    // The token checked and where it came from: only it goes upstream as a credential (claimFields).
    const fromCookie = bearer === undefined;
    const verdict = this.#verify(token);
    // The binding after the signature (a forged token's cnf says nothing) and on every request,
    // a remembered token's too: the token is the same on another connection, its binding is not.
    const tagged = (v: JwtVerdict): JwtVerdict =>
      'claims' in v
        ? (bindingRefusal(v.claims, certificate, this.#config.boundTokens) ?? {
            claims: v.claims,
            fromCookie,
            token,
          })
        : v;
    return verdict instanceof Promise ? verdict.then(tagged) : tagged(verdict);
  }

  #verify(token: string): JwtVerdict | Promise<JwtVerdict> {
    const key = createHash('sha256').update(token).digest('base64');
    const kept = this.#remembered.get(key);
    if (kept !== undefined) {
      if (kept.until > Date.now()) return { claims: kept.claims };
      this.#remembered.delete(key);
    }
    const ready = this.#local ?? this.#remote?.fresh();
    if (ready !== undefined) return this.#check(token, key, ready, true);
    // The keys are to be fetched: a token no key could make good (not a JWS, an alg or a crit the
    // route does not take, expired, another audience's) is refused first. The endpoint failing
    // is no verdict on it (a 401, not the hop's 502), and it fetches nothing.
    const refused = keylessRefusal(token, this.#rules);
    if (refused !== undefined) return refused;
    const keys = (this.#remote as RemoteJwks).keys();
    if (keys instanceof Promise)
      return keys.then(
        (fetched) => this.#check(token, key, fetched, true),
        (failure: Failure) => ({ failed: failure }),
      );
    return this.#check(token, key, keys, true);
  }

  /**
   * The token checked against `keys`; a kid they lack, or no kid and no key of them that verifies
   * it (the issuer may have rotated its keys since they were fetched), asks the JWKS endpoint
   * again, at most once per check (`mayRefresh`) and per jwks_min_refresh. That ask failing is
   * the hop's failure (502/503/504), never a 401: an outage logs nobody out; and so is a key the
   * endpoint published that cannot check a signature.
   */
  #check(token: string, key: string, keys: JwkSet, mayRefresh: boolean): JwtVerdict | Promise<JwtVerdict> {
    const checked: JwtCheck = verifyJwt(token, keys, this.#rules);
    if ('claims' in checked) {
      this.#remember(key, checked.claims);
      return checked;
    }
    const remote = this.#remote;
    if (remote !== undefined && checked.invalid === 'ERR_JWKS_INVALID')
      return { failed: remote.unusableKey() };
    if (!mayRefresh || remote === undefined || !newerKeysMayVerify(token, checked)) return checked;
    // No key for it at hand: one its claims refuse is the client's 401 whatever the endpoint says
    // (a bad signature still named as one: jose checks the signature before the claims).
    const refused = keylessRefusal(token, this.#rules);
    if (refused !== undefined) return checked.invalid === 'ERR_JWKS_NO_MATCHING_KEY' ? refused : checked;
    return remote.lackingKey().then(
      (fresh) =>
        fresh === undefined
          ? checked
          : fresh instanceof Failure
            ? { failed: fresh }
            : this.#check(token, key, fresh, false),
      () => checked,
    );
  }

  #remember(key: string, claims: JWTPayload): void {
    const now = Date.now();
    const exp =
      typeof claims.exp === 'number' ? claims.exp * 1000 + this.#config.clockSkew : Number.POSITIVE_INFINITY;
    const remembered = this.#remembered;
    if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.keys().next().value as string);
    remembered.set(key, { claims, until: Math.min(exp, now + REMEMBERED_MS) });
  }

  /** The token of `Authorization: Bearer …` (RFC 6750 §2.1, the scheme in any case). */
  #bearer(authorization: string | string[] | undefined): string | undefined {
    if (typeof authorization !== 'string') return undefined;
    const space = authorization.indexOf(' ');
    if (space === -1 || authorization.slice(0, space).toLowerCase() !== 'bearer') return undefined;
    const token = authorization.slice(space + 1).trim();
    return token === '' ? undefined : token;
  }

  /** The token of the configured cookie. */
  #cookieToken(fields: FieldMap): string | undefined {
    const cookie = this.#config.cookie;
    if (cookie === undefined) return undefined;
    const value = cookieValue(fields.cookie, cookie);
    return value !== undefined && value.length <= MAX_TOKEN ? value : undefined;
  }

  /**
   * The upstream request's fields for a good token: every configured field removed (the
   * client's own copy never passes), then each claim the token holds, as text; and the token
   * cookie only where it holds the token checked. The gateway reads the first cookie of the name,
   * an app may read the last (Django, Python's http.cookies), or the cookie when the token came
   * in Authorization: another value, unchecked, would be acted on as the identity checked.
   */
  claimFields(verdict: JwtGood): (headers: readonly string[]) => string[] {
    const cookie = this.#config.cookie;
    const fields = this.#claimFields;
    const added = fields.values(verdict.claims);
    return (headers) => {
      const out: string[] = [];
      for (let i = 0; i < headers.length; i += 2) {
        const lower = headers[i].toLowerCase();
        if (fields.has(lower)) continue;
        if (cookie === undefined || lower !== 'cookie') out.push(headers[i], headers[i + 1]);
        else {
          const value = withoutCookie(headers[i + 1], cookie, verdict.token);
          if (value !== '') out.push(headers[i], value);
        }
      }
      out.push(...added);
      return out;
    };
  }
}
