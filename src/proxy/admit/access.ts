import type {
  ForwardAuthConfig,
  JwtAuthConfig,
  RouteAccessConfig,
  RouteConfig,
} from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { TraceContext } from '../../core/ids/traceparent.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import { forwardedClient, type TrustList } from '../../core/net/trust.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { createUpstream, type Upstream } from '../../upstream/targets/upstream.ts';
import { AuthHopHealth } from './auth-hop-health.ts';
import { BasicAuth, type BasicVerdict } from './basic-auth.ts';
import { CorsPolicy } from './cors.ts';
import { type AskAuthService, ForwardAuth, type ForwardCall, type ForwardVerdict } from './forward-auth.ts';
import { IpLists } from './ip-lists.ts';
import { RemoteJwks } from './jwks-source.ts';
import { JwtAuth, type JwtVerdict } from './jwt-auth.ts';

/** What the log's `auth` field says of a request the route's access rules looked at. */
export type AccessNote = 'allowed' | `denied: ${string}` | `failed: ${string}`;

/**
 * What the access rules decided: the note for the log, and the answer when the gateway makes
 * it (a refusal, a preflight's 204); without one the request goes on.
 */
export interface AccessDecision {
  readonly note: AccessNote;
  readonly answer?: Failure | OwnAnswer;
  /** The edit of the request sent upstream: the client's credentials dropped (unless forwarded). */
  readonly requestEdit?: AnswerEdit;
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
}

const ALLOWED: AccessDecision = { note: 'allowed' };

/** A refusal: the client learns what kind, the log (the note) which rule. */
function refusal(status: 401 | 403, details: string, note: string, challenge?: string): AccessDecision {
  return {
    note: `denied: ${note}`,
    answer: new Failure('http_request_denied', details, {
      status,
      final: true,
      ...(challenge === undefined ? {} : { challenge }),
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
    if (headers[i].length === 13 && headers[i].toLowerCase() === 'authorization') {
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

/** The request upstream without the client's Authorization: the credentials were the gateway's to check. */
const dropAuthorization: AnswerEdit = (headers) => {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() !== 'authorization') out.push(headers[i], headers[i + 1]);
  return out;
};

/** One route's access rules, built once per config snapshot. */
class RouteAccess {
  readonly #ipLists: IpLists | undefined;
  readonly cors: CorsPolicy | undefined;
  readonly #basic: BasicAuth | undefined;
  readonly #jwt: JwtAuth | undefined;
  readonly #forward: ForwardAuth | undefined;
  readonly #forwardAuthorization: boolean;
  /** Whether the route authenticates (basic, jwt or forward). */
  readonly #authenticates: boolean;
  readonly #allowed: AccessDecision;
  readonly #trust: TrustList;

  constructor(
    config: RouteAccessConfig,
    trust: TrustList,
    jwks: (config: JwtAuthConfig) => RemoteJwks | undefined,
    forward: (config: ForwardAuthConfig) => ForwardAuth,
  ) {
    this.#ipLists = config.allow === undefined && config.deny === undefined ? undefined : new IpLists(config);
    this.#trust = trust;
    this.cors = config.cors && new CorsPolicy(config.cors);
    this.#basic = config.auth?.basic && new BasicAuth(config.auth.basic);
    this.#jwt = config.auth?.jwt && new JwtAuth(config.auth.jwt, jwks);
    this.#forward = config.auth?.forward && forward(config.auth.forward);
    this.#forwardAuthorization = config.auth?.forwardAuthorization === true;
    this.#authenticates = config.auth !== undefined;
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
    if (this.#authenticates && twoAuthorizations(request.headers)) return TWO_AUTHORIZATIONS;
    const forward = this.#forward;
    if (forward !== undefined) {
      const verdict = forward.verify(request.fields, request);
      return verdict instanceof Promise
        ? verdict.then((v) => this.#forwardDecision(v))
        : this.#forwardDecision(verdict);
    }
    const jwt = this.#jwt;
    if (jwt !== undefined) {
      const verdict = jwt.verify(request.fields);
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
    if ('failed' in verdict) return { note: `failed: ${verdict.failed.type}`, answer: verdict.failed };
    if ('refused' in verdict)
      return { note: `denied: forward ${verdict.refused.status}`, answer: verdict.refused };
    const copy = verdict.allowed;
    return {
      note: 'allowed',
      requestEdit: this.#forwardAuthorization ? copy : (headers) => copy(dropAuthorization(headers)),
    };
  }

  /** RFC 6750 §3: a request without a token gets the bare challenge, a bad token says so. */
  #jwtDecision(jwt: JwtAuth, verdict: JwtVerdict): AccessDecision {
    if ('failed' in verdict) return { note: `failed: ${verdict.failed.type}`, answer: verdict.failed };
    if ('missing' in verdict)
      return refusal(401, 'this route needs a bearer token', `jwt ${verdict.missing}`, 'Bearer');
    if ('invalid' in verdict)
      return refusal(
        401,
        'the bearer token was not accepted',
        `jwt ${verdict.invalid}`,
        'Bearer error="invalid_token"',
      );
    const claims = jwt.claimFields(verdict);
    // forward_authorization passes on the bearer token checked; a token from the cookie leaves
    // whatever the client's Authorization says (unchecked) behind.
    const passOn = this.#forwardAuthorization && verdict.fromCookie !== true;
    return {
      note: 'allowed',
      requestEdit: passOn ? claims : (headers) => claims(dropAuthorization(headers)),
    };
  }

  #basicDecision(basic: BasicAuth, verdict: BasicVerdict): AccessDecision {
    if ('user' in verdict) return this.#allowed;
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

/** How the auth hops reach their services: the upstreams of the snapshot, and the session's attempt loop (session/auth-call.ts). */
export interface AuthHops {
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly ask: (upstream: Upstream, call: ForwardCall) => ReturnType<AskAuthService>;
}

/** An auth hop as the status page shows it: its record, and the upstream (with its circuit) it goes through. */
export interface AuthHopView {
  readonly health: AuthHopHealth;
  readonly upstream: Upstream | undefined;
}

/**
 * The access rules of every route of one config snapshot: IP lists, CORS, then authentication.
 * A route without any has no entry and is never asked (RouteConfig.access).
 */
export class Access {
  readonly #routes = new Map<RouteConfig, RouteAccess>();
  /** The key sets fetched from JWKS URLs, by URL and refresh interval. */
  readonly #keySets = new Map<string, RemoteJwks>();
  /** The upstreams forward-auth URLs made for themselves ("auth:HOST"), by name. */
  readonly #ownUpstreams = new Map<string, Upstream>();
  /** Each forward-auth hop's record, by its name. */
  readonly #forwardHealth = new Map<string, AuthHopView>();
  /** Each JWKS host's record, by its name: the key sets it serves (one per URL) are one hop, as Proxy-Status names them. */
  readonly #jwksHealth = new Map<string, AuthHopHealth>();

  /**
   * With `previous` (a reload), a JWKS URL still named keeps its fetched keys: a reload while
   * the endpoint is down must not turn good tokens into 502s. An auth URL still named keeps its
   * upstream (pool, circuit, budget) as an upstream kept by name does; one no longer named
   * retires its pool. A hop keeps its record.
   */
  constructor(
    routes: readonly RouteConfig[],
    logger: Logger,
    hops: AuthHops,
    trust: TrustList,
    previous?: Access,
  ) {
    const jwks = (config: JwtAuthConfig): RemoteJwks | undefined => {
      if (config.jwksUrl === undefined) return undefined;
      const key = `${config.jwksMinRefresh} ${config.jwksUrl}`;
      let set = this.#keySets.get(key) ?? (previous === undefined ? undefined : previous.#keySets.get(key));
      const name = `auth:${config.name}`;
      if (set === undefined) {
        set = new RemoteJwks(
          config.jwksUrl,
          this.#jwksHealth.get(name) ??
            (previous === undefined ? undefined : previous.#jwksHealth.get(name)) ??
            new AuthHopHealth(name, 'jwks'),
          config.jwksMinRefresh,
          logger,
        );
        // The URL named before with another refresh interval: its keys stay.
        const kept = previous === undefined ? undefined : previous.#keySetOf(config.jwksUrl);
        if (kept !== undefined) set.adopt(kept);
      }
      this.#keySets.set(key, set);
      this.#jwksHealth.set(name, set.health);
      return set;
    };
    const forward = (config: ForwardAuthConfig, route: RouteConfig): ForwardAuth => {
      const upstream = config.shared
        ? (hops.upstreams.get(config.upstream.name) as Upstream)
        : this.#ownUpstream(config, previous);
      const name = `auth:${config.name}`;
      const health =
        this.#forwardHealth.get(name)?.health ??
        (previous === undefined ? undefined : previous.#forwardHealth.get(name)?.health) ??
        new AuthHopHealth(name, 'forward');
      this.#forwardHealth.set(name, { health, upstream });
      return new ForwardAuth(config, route, (call) => hops.ask(upstream, call), health);
    };
    for (const route of routes)
      if (route.access)
        this.#routes.set(
          route,
          new RouteAccess(route.access, trust, jwks, (config) => forward(config, route)),
        );
    for (const [name, old] of previous === undefined ? [] : previous.#ownUpstreams)
      if (!this.#ownUpstreams.has(name)) for (const target of old.targets) target.pool.retire();
  }

  /** A key set this snapshot fetches from `url`, whatever its refresh interval. */
  #keySetOf(url: string): RemoteJwks | undefined {
    for (const set of this.#keySets.values()) if (set.url === url) return set;
    return undefined;
  }

  /**
   * The one-target upstream of an auth URL, kept by its name: the routes that name one host
   * share its pool and circuit (the first route's settings build it).
   */
  #ownUpstream(config: ForwardAuthConfig, previous: Access | undefined): Upstream {
    const { name } = config.upstream;
    let upstream = this.#ownUpstreams.get(name);
    if (upstream === undefined) {
      upstream = createUpstream(
        config.upstream,
        previous === undefined ? undefined : previous.#ownUpstreams.get(name),
      );
      this.#ownUpstreams.set(name, upstream);
    }
    return upstream;
  }

  /** Every auth hop of the snapshot (forward-auth services, then JWKS endpoints), for the status page. */
  authHops(): AuthHopView[] {
    return [
      ...this.#forwardHealth.values(),
      ...[...this.#jwksHealth.values()].map((health) => ({ health, upstream: undefined })),
    ];
  }

  /** Closes the connections of the auth URLs' own upstreams (the gateway stops). */
  async close(): Promise<void> {
    await Promise.all([...this.#ownUpstreams.values()].map((upstream) => upstream.close()));
  }

  check(route: RouteConfig, request: AccessRequest): AccessDecision | Promise<AccessDecision> {
    return this.#routes.get(route)?.check(request) ?? ALLOWED;
  }

  /**
   * The edit of every answer to a request on this route (the upstream's, the gateway's errors,
   * its own answers): the route's response rules, then its CORS fields. Undefined: none.
   */
  answerEdit(
    route: RouteConfig,
    request: { readonly method: string; readonly fields: FieldMap },
    rules: AnswerEdit | undefined,
  ): AnswerEdit | undefined {
    const cors = this.#routes.get(route)?.cors;
    if (cors === undefined) return rules;
    const edit = cors.answerEdit(request.method, request.fields);
    return rules === undefined ? edit : (headers) => edit(rules(headers));
  }
}
