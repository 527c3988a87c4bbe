import type { ForwardAuthConfig, RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { unusableAnswer } from '../../core/failure/unusable-answer.ts';
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import { connectionNominated, isHopByHop } from '../../core/http1/hop-by-hop.ts';
import type { TraceContext } from '../../core/ids/traceparent.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';
import { type FieldMap, joinedField, joinedValue } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type { HopTriesHolder } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';
import { isCircuitRefusal } from '../../upstream/breakers/circuit-refusals.ts';
import type { PassedOnAnswer } from '../decide/own-answer-head.ts';
import type { ServiceAnswer, ServiceCall } from '../stages/service-call.ts';
import { authHopFailure, hopLooping, hopUnavailable } from './auth-hop.ts';
import type { AuthHopHealth } from './auth-hop-health.ts';
import { DecisionCache } from './decision-cache.ts';
import { identityOf } from './identity.ts';
import { FIELD_VALUE, passedOnAnswer, REDIRECTS } from './service-answer.ts';

/**
 * The fields in which proxies in front tell the client's facts: always handed to the hop's
 * header builder, which keeps a trusted peer's (`trust_forwarded_from`) and appends to them, and
 * drops anyone else's, as for the upstream's request. Without them the service behind a trusted
 * balancer was told the balancer as the client and its protocol (http where the client used
 * https) while the upstream was told the client.
 */
const PROXYS_WORDS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'];

/**
 * Fields of the client's never sent to the service as `send_headers` (nor are the hop-by-hop
 * ones, nor those its Connection names): the GET is the gateway's own, framed and addressed by
 * its connection (a Content-Length without a body would leave the service waiting for one),
 * X-Forwarded-Method and -Uri are the gateway's to write, and PROXYS_WORDS go their own way.
 */
const NOT_SENT = new Set([
  'host',
  'content-length',
  'expect',
  'x-forwarded-method',
  'x-forwarded-uri',
  // The trace context goes whole, named or not (below).
  'tracestate',
  ...PROXYS_WORDS,
]);

/**
 * The service's refusals passed on to the client as it wrote them (with REDIRECTS): its 401 and
 * 403, and its 429 (it throttles this client, with its Retry-After): each a decision on the
 * request, none the hop failing.
 */
const PASSED_ON = new Set([401, 403, 429]);

/** What the auth service said: let in (with its fields for the upstream), refused (its answer, passed on), or the hop failed. */
export type ForwardVerdict =
  | { readonly allowed: AnswerEdit; readonly identity?: string }
  | { readonly refused: PassedOnAnswer }
  | { readonly failed: Failure };

/** What the service is told of the request beyond the fields it asked for. */
export interface ForwardFacts {
  readonly method: string;
  readonly target: string;
  readonly host: string;
  readonly clientAddress: string;
  /** The client's request id: the service's X-Request-Id, so its log and the gateway's meet. */
  readonly requestId: string;
  /** "http" or "https": how the client reached the gateway (the service's X-Forwarded-Proto). */
  readonly protocol: string;
  /** The client's request's trace: the service is asked as a part of it (its traceparent). */
  readonly trace: TraceContext;
  /** The request's spans: each attempt of the call is a span of theirs (undefined when tracing is off). */
  readonly spans?: RequestSpans;
  /** The certificate the connection presented: the service decides by identity, so it is told a verified one. */
  readonly clientCertificate?: ClientCertificate;
  /** Where the call tells its attempts when it retried: the request's log line's `hop_tries`. */
  readonly hopTriesOf?: HopTriesHolder;
}

/**
 * Asks the service through its upstream (session/auth-call.ts: the one attempt loop, with its
 * pool, circuit, retry rule and budget, as a client's request has); rejects with the classified Failure.
 */
export type AskAuthService = (call: ServiceCall) => Promise<ServiceAnswer>;

/**
 * Bytes of a refusal's body for it to be kept with `cache` (a larger one is passed on, and asked
 * again next time): the kept decisions are `max_entries` at most, and so is this times that.
 */
export const MAX_KEPT_BODY = 4 * 1024;

/**
 * Forward authentication (as nginx's auth_request, Traefik's ForwardAuth): each request is
 * asked of an auth service by a GET with the configured client fields and X-Forwarded-Method,
 * -Uri, -Host, -For and -Proto. A 2xx lets it in, `copy_headers` of that answer going upstream
 * (the client's own copies removed), its `identity_from` field naming the user admitted; its 401
 * (with its WWW-Authenticate), its 403, its 429 and its redirects (to a login page) are passed to the client as it wrote them, body included; anything
 * else is the auth hop failing: 503 for its 5xx (502 proxy_loop_detected for one whose Proxy-Status
 * says the request loops), 502 for another answer, 502, 503 or 504 by the
 * shape when it cannot be asked (its circuit open, refused, reset, slow), never a 401. With
 * `cache`, a verdict stands for the requests with the same key, host, scheme and client for `ttl` (requests with that key
 * arriving while it is asked wait for the same answer); a failure is never kept.
 */
export class ForwardAuth {
  readonly #config: ForwardAuthConfig;
  readonly #route: RouteConfig;
  /** The next hop its failures show clients (access.ts's shownForwardHop: never an address not exposed). */
  readonly #shownHop: string;
  /** The hop's name on the status page and in the log: `auth:NAME`, a `url`'s `auth:HOST:PORT`. */
  readonly hop: string;
  readonly #ask: AskAuthService;
  /** The upstream circuit's refusals (no call made), as #call told them: not the row's last failure. */
  readonly #refusals = new WeakSet<Failure>();
  readonly #health: AuthHopHealth;
  readonly #cache: DecisionCache<ForwardVerdict> | undefined;
  /**
   * Verdicts being asked for, by cache key, with the method and target of the request that
   * asks: a burst of one client's requests makes one call.
   */
  readonly #asking = new Map<
    string,
    { readonly verdict: Promise<ForwardVerdict>; readonly method: string; readonly target: string }
  >();

  /**
   * Takes the gateway's own cookies (every OpenID Connect route's session and sign-in flows) out of
   * what the service is sent (its `send_headers` take Cookie by default): a bearer credential of
   * the gateway's, no service's to read. Undefined where no route signs in.
   */
  readonly #withoutGatewayCookies: AnswerEdit | undefined;

  constructor(
    config: ForwardAuthConfig,
    route: RouteConfig,
    shownHop: string,
    ask: AskAuthService,
    health: AuthHopHealth,
    withoutGatewayCookies?: AnswerEdit,
  ) {
    this.#config = config;
    this.#route = route;
    this.#shownHop = shownHop;
    this.hop = `auth:${config.name}`;
    this.#ask = ask;
    this.#health = health;
    this.#cache = config.cache && new DecisionCache(config.cache);
    this.#withoutGatewayCookies = withoutGatewayCookies;
  }

  verify(fields: FieldMap, facts: ForwardFacts): ForwardVerdict | Promise<ForwardVerdict> {
    const cache = this.#cache;
    const key = cache?.keyOf(fields, facts.host, facts.clientAddress, facts.protocol, toldCertificate(facts));
    if (cache === undefined || key === undefined) return this.#verify(fields, facts);
    const kept = cache.get(key, performance.now());
    if (kept !== undefined) return kept;
    const asking = this.#asking.get(key);
    if (asking !== undefined) {
      if (asking.method === facts.method && asking.target === facts.target) return asking.verdict;
      // A redirect names the request it answered (the login page's return address): another
      // request of the key asks for its own, as it would once the answer came (keepable).
      return asking.verdict.then((verdict) => (isRedirect(verdict) ? this.#verify(fields, facts) : verdict));
    }
    const verdict = this.#verify(fields, facts).then((verdict) => {
      this.#asking.delete(key);
      if (keepable(verdict)) cache.set(key, verdict, performance.now());
      return verdict;
    });
    this.#asking.set(key, { verdict, method: facts.method, target: facts.target });
    return verdict;
  }

  async #verify(fields: FieldMap, facts: ForwardFacts): Promise<ForwardVerdict> {
    const verdict = await this.#call(fields, facts);
    // The open circuit's refusal is counted, but the row keeps the failure that opened it.
    this.#health.told(verdict, 'failed' in verdict && this.#refusals.has(verdict.failed));
    return verdict;
  }

  async #call(fields: FieldMap, facts: ForwardFacts): Promise<ForwardVerdict> {
    const config = this.#config;
    const headers: string[] = [];
    // What the client's Connection names is for its hop to the gateway alone (RFC 9110 §7.6.1).
    const connection = fields.connection;
    const nominated =
      connection === undefined
        ? undefined
        : connectionNominated(typeof connection === 'string' ? [connection] : connection);
    for (const name of config.sendHeaders) {
      if (NOT_SENT.has(name) || isHopByHop(name) || nominated?.has(name)) continue;
      const value = joinedValue(fields[name]);
      if (value !== undefined) headers.push(name, value);
    }
    // Named in the client's Connection or not: the hop's builder reads a trusted proxy's and says
    // them again in its own (request-headers.ts), as for the upstream; dropped here, the service
    // was told the proxy as the client the gateway had judged to be another.
    for (const name of PROXYS_WORDS) {
      const value = fields[name];
      if (value === undefined) continue;
      for (const line of Array.isArray(value) ? value : [value]) headers.push(name, line);
    }
    // The service is asked as a part of the client's trace: the gateway's traceparent (the head
    // builder's) goes with the client's tracestate, which it keeps only for a continued trace.
    const state = fields.tracestate;
    if (typeof state === 'string' && nominated?.has('tracestate') !== true) headers.push('tracestate', state);
    // The hop writes -For, -Host and -Proto from the client's facts (after a trusted peer's), as for any request it forwards.
    const own = ['x-forwarded-method', facts.method, 'x-forwarded-uri', facts.target];
    let answer: ServiceAnswer;
    try {
      answer = await this.#ask({
        path: config.path,
        headers: this.#withoutGatewayCookies === undefined ? headers : this.#withoutGatewayCookies(headers),
        own,
        deadline: config.timeout,
        route: this.#route,
        hop: this.hop,
        client: {
          requestId: facts.requestId,
          address: facts.clientAddress,
          host: facts.host,
          protocol: facts.protocol,
          trace: facts.trace,
          spans: facts.spans,
          clientCertificate: facts.clientCertificate,
          hopTriesOf: facts.hopTriesOf,
        },
      });
    } catch (err) {
      const failed = this.#failure(err);
      if (isCircuitRefusal(err)) this.#refusals.add(failed);
      return { failed };
    }
    const { status } = answer;
    if (status >= 200 && status < 300) {
      const from = config.identityFrom;
      const named = from === undefined ? undefined : onlyField(answer.headers, from);
      const identity = identityOf(named);
      // The field on two lines names two users, whom the log tells as nobody: the app is told none either.
      const allowed = this.#copy(
        answer.headers,
        from !== undefined && named === undefined ? from : undefined,
      );
      return identity === undefined ? { allowed } : { allowed, identity };
    }
    if (PASSED_ON.has(status) || REDIRECTS.has(status)) return { refused: passedOnAnswer(answer) };
    return {
      failed: authHopFailure(
        status >= 500
          ? (hopLooping(status, joinedField(answer.headers, 'proxy-status')) ??
              hopUnavailable(status, joinedField(answer.headers, 'retry-after')))
          : // Good HTTP, no verdict: said so, never "not HTTP" (unusable-answer.ts).
            unusableAnswer(`it answered ${status}, neither 2xx, 401, 403, 429 nor a redirect`),
        this.#shownHop,
        'the auth service',
      ),
    };
  }

  #failure(err: unknown): Failure {
    const failure =
      err instanceof Failure
        ? err
        : new Failure('proxy_internal_error', 'the auth service could not be asked', { cause: err });
    return authHopFailure(failure, this.#shownHop, 'the auth service');
  }

  /**
   * The upstream request's edit: every copied field removed, then the service's values, but for
   * `nobody` (the `identity_from` field when it named no one user).
   */
  #copy(answer: readonly string[], nobody: string | undefined): AnswerEdit {
    const names = new Set(this.#config.copyHeaders);
    const added: string[] = [];
    for (const name of names) {
      if (name === nobody) continue;
      const value = joinedField(answer, name);
      if (value !== undefined && FIELD_VALUE.test(value)) added.push(name, value);
    }
    // Every spelling of each: a client's X_User_Id is X-User-Id to a CGI-style app (cgi-spelling.ts).
    const spellings = new Set([...names].map(cgiSpelling));
    return (headers) => {
      const out: string[] = [];
      for (let i = 0; i < headers.length; i += 2)
        if (!spellings.has(cgiSpelling(headers[i].toLowerCase()))) out.push(headers[i], headers[i + 1]);
      out.push(...added);
      return out;
    };
  }
}

/**
 * A verdict that may be kept: never a failure, nor a redirect (its Location names the request it
 * answered, a login page's return address: another path of the same client needs its own), nor
 * a 429 (a throttle holds for its Retry-After, not for a session), nor a refusal whose body is
 * past MAX_KEPT_BODY.
 */
function keepable(verdict: ForwardVerdict): boolean {
  if ('failed' in verdict) return false;
  if (!('refused' in verdict)) return true;
  const { status, body } = verdict.refused;
  return !isRedirect(verdict) && status !== 429 && body.length <= MAX_KEPT_BODY;
}

function isRedirect(verdict: ForwardVerdict): boolean {
  return 'refused' in verdict && REDIRECTS.has(verdict.refused.status);
}

/**
 * The one value of a field the service's answer has once: two lines of the user's field (or one
 * joined by `,`) name two users, or a name the service did not mean; neither is anyone.
 */
function onlyField(answer: readonly string[], lowerName: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < answer.length; i += 2)
    if (answer[i].length === lowerName.length && answer[i].toLowerCase() === lowerName) {
      if (value !== undefined) return undefined;
      value = answer[i + 1];
    }
  return value;
}

/** The fingerprint of the certificate the service is told (a verified one), '' for none: a kept decision is its own. */
function toldCertificate(facts: ForwardFacts): string {
  const judged = facts.clientCertificate;
  return judged?.refused === undefined ? (judged?.certificate?.fingerprint256 ?? '') : '';
}
