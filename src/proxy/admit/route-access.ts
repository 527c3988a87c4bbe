import type {
  ForwardAuthConfig,
  JwtAuthConfig,
  OidcAuthConfig,
  RouteAccessConfig,
} from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { nameIs } from '../../core/http1/syntax.ts';
import type { TraceContext } from '../../core/ids/traceparent.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import { forwardedClient, type TrustList } from '../../core/net/trust.ts';
import type { HopTriesHolder } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';
import { shownAs } from './auth-hop.ts';
import { BasicAuth, type BasicVerdict } from './basic-auth.ts';
import { ClientCertificateAuth } from './client-certificate-auth.ts';
import { CorsPolicy } from './cors.ts';
import type { ForwardAuth, ForwardVerdict } from './forward-auth.ts';
import { identityEdit, identityOf } from './identity.ts';
import { IpLists } from './ip-lists.ts';
import type { RemoteJwks } from './jwks-source.ts';
import { JwtAuth, type JwtVerdict } from './jwt-auth.ts';
import type { OidcAuth, OidcVerdict } from './oidc/oidc-auth.ts';
import { SESSION_STORE_HOP } from './oidc/session.ts';

/** How a route's OpenID Connect sign-in is made (access.ts), and the next hop its provider's failures show clients. */
export interface OidcHops {
  readonly auth: (config: OidcAuthConfig) => OidcAuth;
  readonly shown: (config: OidcAuthConfig) => string;
}

/** What the log's `auth` field says of a request the route's access rules looked at. */
export type AccessNote = 'allowed' | `allowed: ${string}` | `denied: ${string}` | `failed: ${string}`;

/**
 * What the access rules decided: the note for the log, and the answer when the gateway makes
 * it (a refusal, a preflight's 204); without one the request goes on.
 */
export interface AccessDecision {
  readonly note: AccessNote;
  readonly answer?: Failure | OwnAnswer;
  /** The edit of the request sent upstream: the client's credentials dropped (unless forwarded). */
  readonly requestEdit?: AnswerEdit;
  /** The auth hop that failed, by its name on the status page (a `url`'s address): the log's, never a client's. */
  readonly hop?: string;
  /** Who the authentication admitted (Basic's user, a JWT's claim, the auth service's field): the log's `user`. */
  readonly identity?: string;
}

/** The facts of a request the access rules read. */
export interface AccessRequest {
  /** The client's address as the gateway knows it (RequestRecord.clientAddress): the peer's, or a PROXY header's. */
  readonly clientAddress: string;
  readonly method: string;
  /**
   * The request's path in its normal form, query included, as the route matched it (never the
   * client's spelling: `/app//admin` must read as `/app/admin` to an auth service as to the
   * routes); the host it addressed, its id and scheme (for forward auth).
   */
  readonly target: string;
  readonly host: string;
  readonly requestId: string;
  readonly protocol: string;
  readonly fields: FieldMap;
  /** The head's fields as sent, flat (name, value, …): `fields` keeps only a singleton's first. */
  readonly headers: readonly string[];
  /** The request's trace (RequestRecord.trace): forward auth's call is a part of it. */
  readonly trace: TraceContext;
  /** The request's spans, the parent of forward auth's (undefined when tracing is off). */
  readonly spans?: RequestSpans;
  /** The certificate the connection's client presented, where its listener asks for one. */
  readonly clientCertificate?: ClientCertificate;
  /** Where forward auth's call tells its attempts when it retried (RequestRecord.hopTries). */
  readonly hopTriesOf?: HopTriesHolder;
}

/** The decision of a route without rules, or whose rules let the request in as it is. */
const ALLOWED: AccessDecision = { note: 'allowed' };

/** A refusal: the client learns what kind, the log (the note) which rule. */
function refusal(
  status: 401 | 403,
  details: string,
  note: string,
  challenge?: string,
  signInAgain?: string,
): AccessDecision {
  return {
    note: `denied: ${note}`,
    answer: new Failure('http_request_denied', details, {
      status,
      final: true,
      ...(challenge === undefined ? {} : { challenge }),
      ...(signInAgain === undefined ? {} : { signInAgain }),
    }),
  };
}

/**
 * More than one Authorization field line: RFC 9110 §11.6.2 gives the field one credential, and a
 * request carrying two is malformed (RFC 6750 §3.1's invalid_request, a 400). The gateway checks
 * the first (fieldMap keeps a singleton's first, as node:http does) while an upstream told the
 * credentials (`forward_authorization`) or a forward-auth service may read the last, or both
 * joined: one credential checked, another acted on.
 */
function twoAuthorizations(headers: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < headers.length; i += 2)
    if (nameIs(headers[i], 'authorization')) {
      if (seen) return true;
      seen = true;
    }
  return false;
}

const TWO_AUTHORIZATIONS: AccessDecision = {
  note: 'denied: two Authorization fields',
  answer: new Failure('http_request_error', 'the request has more than one Authorization field', {
    status: 400,
    final: true,
  }),
};

/**
 * The request upstream without the client's Authorization: the credentials were the gateway's to
 * check. One copy of the list, of its size, the field's line taken out of it: pushed name by
 * name into a new list, with every name lower-cased, it was some 0.9 KB of a request's
 * allocations (the list grown twice, this hop's own capitalised names copied).
 */
const dropAuthorization: AnswerEdit = (headers) => {
  const out = headers.slice();
  for (let i = out.length - 2; i >= 0; i -= 2) if (nameIs(out[i], 'authorization')) out.splice(i, 2);
  return out;
};

/**
 * One route's access rules, built once per config snapshot (access.ts keeps every route's, and
 * the auth hops they share): IP lists, CORS, then authentication, each decision said for the log.
 */
export class RouteAccess {
  readonly #ipLists: IpLists | undefined;
  readonly cors: CorsPolicy | undefined;
  readonly #basic: BasicAuth | undefined;
  readonly #jwt: JwtAuth | undefined;
  /** The next hop the JWKS endpoint's failures show clients (access.ts's shownJwksHop). */
  readonly #jwtHop: string;
  readonly #forward: ForwardAuth | undefined;
  /** `auth.client_certificate`: checked first, alone or before one of the others. */
  readonly #certificate: ClientCertificateAuth | undefined;
  /** The route authenticates by its client certificate alone: it names the user. */
  readonly #certificateOnly: boolean;
  readonly #oidc: OidcAuth | undefined;
  /** The next hop the OpenID provider's failures show clients (access.ts's shownOidcHop). */
  readonly #oidcHop: string;
  readonly #forwardAuthorization: boolean;
  /** Whether the route authenticates (basic, jwt or forward). */
  readonly #authenticates: boolean;
  readonly #allowed: AccessDecision;
  readonly #trust: TrustList;
  /** `auth.identity_header`: the field the upstream is told the user in; undefined: none. */
  readonly #identityHeader: string | undefined;
  /** The claim that names a JWT's user (`auth.jwt.identity_claim`). */
  readonly #identityClaim: string;

  constructor(
    config: RouteAccessConfig,
    trust: TrustList,
    jwks: (config: JwtAuthConfig) => RemoteJwks | undefined,
    forward: (config: ForwardAuthConfig) => ForwardAuth,
    jwtHop: (config: JwtAuthConfig) => string,
    oidc?: OidcHops,
  ) {
    this.#ipLists = config.allow === undefined && config.deny === undefined ? undefined : new IpLists(config);
    this.#trust = trust;
    this.cors = config.cors && new CorsPolicy(config.cors);
    this.#basic = config.auth?.basic && new BasicAuth(config.auth.basic);
    this.#jwt = config.auth?.jwt && new JwtAuth(config.auth.jwt, jwks);
    this.#jwtHop = config.auth?.jwt === undefined ? 'auth:jwks' : jwtHop(config.auth.jwt);
    this.#forward = config.auth?.forward && forward(config.auth.forward);
    this.#certificate =
      config.auth?.clientCertificate && new ClientCertificateAuth(config.auth.clientCertificate);
    this.#certificateOnly =
      this.#certificate !== undefined && !this.#basic && !this.#jwt && !this.#forward && !config.auth?.oidc;
    const oidcConfig = config.auth?.oidc;
    this.#oidc = oidcConfig === undefined ? undefined : oidc?.auth(oidcConfig);
    this.#oidcHop = oidcConfig === undefined ? 'auth:oidc' : (oidc?.shown(oidcConfig) ?? 'auth:oidc');
    this.#forwardAuthorization = config.auth?.forwardAuthorization === true;
    this.#authenticates = config.auth !== undefined;
    this.#identityHeader = config.auth?.identityHeader;
    this.#identityClaim = config.auth?.jwt?.identityClaim ?? 'sub';
    this.#allowed =
      config.auth === undefined || config.auth.forwardAuthorization
        ? ALLOWED
        : { note: 'allowed', requestEdit: dropAuthorization };
  }

  /**
   * In order: the IP lists (nothing from a refused address is looked at), then a CORS
   * preflight, answered here (a browser sends no credentials with one), then authentication.
   */
  check(request: AccessRequest): AccessDecision | Promise<AccessDecision> {
    const refused = this.#ipLists?.judge(request.clientAddress, request.fields, this.#trust);
    if (refused !== undefined) return refusal(403, "the client's address may not use this route", refused);
    if (this.cors && CorsPolicy.isPreflight(request.method, request.fields)) {
      const answer = this.cors.preflight(request.fields);
      if (typeof answer === 'string')
        return refusal(403, 'this cross-origin request is not allowed on this route', answer);
      return { note: 'allowed', answer };
    }
    if (this.#certificate !== undefined) {
      const verdict = this.#certificate.verify(request.clientCertificate);
      if ('refused' in verdict) return refusal(403, verdict.refused.details, verdict.refused.note);
      // Alone, it names the user, and the request's Authorization is none of the gateway's
      // business (the app's own tokens go through). With another way the user is that way's:
      // the certificate says which client, the credential who.
      if (this.#certificateOnly) return this.#admitted(undefined, verdict.identity);
    }
    if (this.#authenticates && twoAuthorizations(request.headers)) return TWO_AUTHORIZATIONS;
    const forward = this.#forward;
    if (forward !== undefined) {
      const verdict = forward.verify(request.fields, request);
      return verdict instanceof Promise
        ? verdict.then((v) => this.#forwardDecision(v))
        : this.#forwardDecision(verdict);
    }
    const oidc = this.#oidc;
    if (oidc !== undefined) {
      const verdict = oidc.check(request);
      return verdict instanceof Promise
        ? verdict.then((v) => this.#oidcDecision(oidc, v))
        : this.#oidcDecision(oidc, verdict);
    }
    const jwt = this.#jwt;
    if (jwt !== undefined) {
      const verdict = jwt.verify(request.fields, request.clientCertificate);
      return verdict instanceof Promise
        ? verdict.then((v) => this.#jwtDecision(jwt, v))
        : this.#jwtDecision(jwt, verdict);
    }
    const basic = this.#basic;
    if (basic === undefined) return this.#allowed;
    // Counted by the client the IP lists judge: behind trusted proxies, the one they vouch for.
    const client = forwardedClient(request.clientAddress, request.fields, this.#trust);
    const verdict = basic.verify(request.fields, client);
    return verdict instanceof Promise
      ? verdict.then((v) => this.#basicDecision(basic, v))
      : this.#basicDecision(basic, verdict);
  }

  /** The service's answer: its refusal (401, 403, a redirect) is the client's, as the service wrote it. */
  #forwardDecision(verdict: ForwardVerdict): AccessDecision {
    if ('failed' in verdict)
      return { note: `failed: ${verdict.failed.type}`, answer: verdict.failed, hop: this.#forward?.hop };
    if ('refused' in verdict)
      return { note: `denied: forward ${verdict.refused.status}`, answer: verdict.refused };
    const copy = verdict.allowed;
    return this.#admitted(
      this.#forwardAuthorization ? copy : (headers) => copy(dropAuthorization(headers)),
      verdict.identity,
    );
  }

  /**
   * A request let in as `identity`: the log's user and, with `identity_header`, the upstream's
   * (the client's own copies of that field dropped, with a user or without).
   */
  #admitted(edit: AnswerEdit | undefined, identity: string | undefined, but?: string): AccessDecision {
    const header = this.#identityHeader;
    const requestEdit = header === undefined ? edit : identityEdit(header, identity, edit);
    const note: AccessNote = but === undefined ? 'allowed' : `allowed: ${but}`;
    return identity === undefined ? { note, requestEdit } : { note, requestEdit, identity };
  }

  /**
   * The sign-in's decision: a session let in as its user (the sealed cookies and Authorization
   * not sent upstream), the gateway's own redirect (to sign in, back from it, out), a refusal,
   * or the provider's failure named as the hop's, never a 401.
   */
  #oidcDecision(oidc: OidcAuth, verdict: OidcVerdict): AccessDecision {
    if ('failed' in verdict)
      return {
        note: `failed: ${verdict.failed.type}`,
        // The session store's failure names the store; the provider's, the provider as configured.
        answer:
          verdict.failed.nextHop === SESSION_STORE_HOP
            ? verdict.failed
            : shownAs(verdict.failed, this.#oidcHop),
        hop: verdict.failed.nextHop,
      };
    if ('answer' in verdict) return { note: verdict.note, answer: verdict.answer };
    if ('refused' in verdict) {
      if (verdict.refused !== 400)
        return refusal(
          verdict.refused,
          verdict.details,
          verdict.note,
          verdict.refused === 401 ? 'Bearer' : undefined,
          verdict.signInAgain,
        );
      return {
        note: `denied: ${verdict.note}`,
        answer: new Failure('http_request_error', verdict.details, {
          status: 400,
          final: true,
          ...(verdict.signInAgain === undefined ? {} : { signInAgain: verdict.signInAgain }),
        }),
      };
    }
    const cookies = oidc.withoutCookies;
    const kept: AnswerEdit = this.#forwardAuthorization
      ? cookies
      : (headers) => cookies(dropAuthorization(headers));
    const claims = oidc.claimFields;
    return this.#admitted(
      claims === undefined ? kept : claims.edit(verdict.admitted, kept),
      verdict.identity,
      verdict.but,
    );
  }

  /** RFC 6750 §3: a request without a token gets the bare challenge, a bad token says so. */
  #jwtDecision(jwt: JwtAuth, verdict: JwtVerdict): AccessDecision {
    if ('failed' in verdict)
      return {
        note: `failed: ${verdict.failed.type}`,
        answer: shownAs(verdict.failed, this.#jwtHop),
        hop: verdict.failed.nextHop,
      };
    if ('missing' in verdict)
      return refusal(401, 'this route needs a bearer token', `jwt ${verdict.missing}`, 'Bearer');
    if ('invalid' in verdict) {
      // A binding's refusal says why (RFC 6750 §3's error_description): a client that left its
      // certificate out can mend that, and the token is one it sent.
      const details = 'details' in verdict ? verdict.details : undefined;
      return refusal(
        401,
        details ?? 'the bearer token was not accepted',
        `jwt ${verdict.invalid}`,
        details === undefined
          ? 'Bearer error="invalid_token"'
          : `Bearer error="invalid_token", error_description="${details}"`,
      );
    }
    const claims = jwt.claimFields(verdict);
    // forward_authorization passes on the bearer token checked; a token from the cookie leaves
    // whatever the client's Authorization says (unchecked) behind.
    const passOn = this.#forwardAuthorization && verdict.fromCookie !== true;
    return this.#admitted(
      passOn ? claims : (headers) => claims(dropAuthorization(headers)),
      // The token's own claim, never a property every object has (`constructor`) read through.
      identityOf(
        Object.hasOwn(verdict.claims, this.#identityClaim) ? verdict.claims[this.#identityClaim] : undefined,
      ),
    );
  }

  #basicDecision(basic: BasicAuth, verdict: BasicVerdict): AccessDecision {
    if ('user' in verdict) return this.#admitted(this.#allowed.requestEdit, identityOf(verdict.user));
    if ('failed' in verdict) {
      // The client's own share of the checks spent: this client refused (429), not the check failing.
      const mine = verdict.failed.type === 'http_request_denied';
      const note = mine ? 'denied: basic too many password checks from this client' : undefined;
      return { note: note ?? `failed: ${verdict.failed.type}`, answer: verdict.failed };
    }
    const missing = verdict.refused === 'no credentials' || verdict.refused === 'no basic credentials';
    return refusal(
      401,
      missing ? 'this route needs credentials' : 'the credentials were not accepted',
      `basic ${verdict.refused}`,
      basic.challenge,
    );
  }
}
