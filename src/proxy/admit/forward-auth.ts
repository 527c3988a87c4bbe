import type { ForwardAuthConfig, RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { isHopByHop } from '../../core/http1/hop-by-hop.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import { authHopFailure } from './auth-hop.ts';
import type { AuthHopHealth } from './auth-hop-health.ts';
import { DecisionCache } from './decision-cache.ts';

/**
 * Fields of the client's never sent to the service, whatever `send_headers` says: the GET is the
 * gateway's own, framed and addressed by its connection (a Content-Length without a body would
 * leave the service waiting for one), and the X-Forwarded-* are the gateway's to write.
 */
const NOT_SENT = new Set([
  'host',
  'content-length',
  'expect',
  'x-forwarded-method',
  'x-forwarded-uri',
  'x-forwarded-host',
  'x-forwarded-for',
]);

/** A field value the service may hand on: printable ASCII, bounded (it becomes a request field or a challenge). */
const FIELD_VALUE = /^[\x20-\x7e]{1,4096}$/;

/** What the auth service said: let in (with its fields for the upstream), refused (401/403), or the hop failed. */
export type ForwardVerdict =
  | { readonly allowed: AnswerEdit }
  | { readonly refused: 401 | 403; readonly challenge: string | undefined }
  | { readonly failed: Failure };

/** What the service is told of the request beyond the fields it asked for. */
export interface ForwardFacts {
  readonly method: string;
  readonly target: string;
  readonly host: string;
  readonly clientAddress: string;
}

/** The GET the service gets, and its answer's head. */
export interface ForwardCall {
  readonly path: string;
  readonly headers: readonly string[];
  readonly deadline: number;
  readonly route: RouteConfig;
}

/**
 * Asks the service through its upstream (the session's subrequest: pool, circuit, retry rule
 * and budget as a client's request has); rejects with the classified Failure.
 */
export type AskAuthService = (
  call: ForwardCall,
) => Promise<{ readonly status: number; readonly headers: readonly string[] }>;

/**
 * Forward authentication (as nginx's auth_request, Traefik's ForwardAuth): each request is
 * asked of an auth service by a GET with the configured client fields and X-Forwarded-Method,
 * -Uri, -Host and -For. A 2xx lets it in, `copy_headers` of that answer going upstream (the
 * client's own copies removed); its 401 (with its WWW-Authenticate) and 403 are passed on;
 * anything else is the auth hop failing: 503 for its 5xx, 502 for another answer, 502, 503 or
 * 504 by the shape when it cannot be asked (its circuit open, refused, reset, slow), never a 401.
 * With `cache`, a verdict stands for the requests with the same key for `ttl` (requests with
 * that key arriving while it is asked wait for the same answer); a failure is never kept.
 */
export class ForwardAuth {
  readonly #config: ForwardAuthConfig;
  readonly #route: RouteConfig;
  readonly #hop: string;
  readonly #ask: AskAuthService;
  readonly #health: AuthHopHealth;
  readonly #cache: DecisionCache<ForwardVerdict> | undefined;
  /** Verdicts being asked for, by cache key: a burst of one client's requests makes one call. */
  readonly #asking = new Map<string, Promise<ForwardVerdict>>();

  constructor(config: ForwardAuthConfig, route: RouteConfig, ask: AskAuthService, health: AuthHopHealth) {
    this.#config = config;
    this.#route = route;
    this.#hop = `auth:${config.name}`;
    this.#ask = ask;
    this.#health = health;
    this.#cache = config.cache && new DecisionCache(config.cache);
  }

  verify(fields: FieldMap, facts: ForwardFacts): ForwardVerdict | Promise<ForwardVerdict> {
    const cache = this.#cache;
    const key = cache?.keyOf(fields);
    if (cache === undefined || key === undefined) return this.#verify(fields, facts);
    const kept = cache.get(key, performance.now());
    if (kept !== undefined) return kept;
    const asking = this.#asking.get(key);
    if (asking !== undefined) return asking;
    const verdict = this.#verify(fields, facts).then((verdict) => {
      this.#asking.delete(key);
      if (!('failed' in verdict)) cache.set(key, verdict, performance.now());
      return verdict;
    });
    this.#asking.set(key, verdict);
    return verdict;
  }

  async #verify(fields: FieldMap, facts: ForwardFacts): Promise<ForwardVerdict> {
    const verdict = await this.#call(fields, facts);
    this.#health.told(verdict);
    return verdict;
  }

  async #call(fields: FieldMap, facts: ForwardFacts): Promise<ForwardVerdict> {
    const config = this.#config;
    const headers: string[] = [];
    for (const name of config.sendHeaders) {
      if (NOT_SENT.has(name) || isHopByHop(name)) continue;
      const value = fields[name];
      if (value !== undefined) headers.push(name, Array.isArray(value) ? value.join(', ') : value);
    }
    headers.push(
      'x-forwarded-method',
      facts.method,
      'x-forwarded-uri',
      facts.target,
      'x-forwarded-host',
      facts.host,
      'x-forwarded-for',
      facts.clientAddress,
    );
    let answer: { readonly status: number; readonly headers: readonly string[] };
    try {
      answer = await this.#ask({ path: config.path, headers, deadline: config.timeout, route: this.#route });
    } catch (err) {
      return { failed: this.#failure(err) };
    }
    const { status } = answer;
    if (status >= 200 && status < 300) return { allowed: this.#copy(answer.headers) };
    if (status === 401 || status === 403) {
      const challenge = fieldOf(answer.headers, 'www-authenticate');
      return {
        refused: status,
        challenge: challenge !== undefined && FIELD_VALUE.test(challenge) ? challenge : undefined,
      };
    }
    return {
      failed: authHopFailure(
        status >= 500
          ? new Failure('destination_unavailable', `it answered ${status}`)
          : new Failure('http_protocol_error', `it answered ${status}, neither 2xx, 401 nor 403`, {
              stage: 'head_received',
            }),
        this.#hop,
        'the auth service',
      ),
    };
  }

  #failure(err: unknown): Failure {
    const failure =
      err instanceof Failure
        ? err
        : new Failure('proxy_internal_error', 'the auth service could not be asked', { cause: err });
    return authHopFailure(failure, this.#hop, 'the auth service');
  }

  /** The upstream request's edit: every copied field removed, then the service's values. */
  #copy(answer: readonly string[]): AnswerEdit {
    const names = new Set(this.#config.copyHeaders);
    const added: string[] = [];
    for (const name of names) {
      const value = fieldOf(answer, name);
      if (value !== undefined && FIELD_VALUE.test(value)) added.push(name, value);
    }
    return (headers) => {
      const out: string[] = [];
      for (let i = 0; i < headers.length; i += 2)
        if (!names.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
      out.push(...added);
      return out;
    };
  }
}

/** A field of a flat [name, value, …] list by its lower-case name, its lines joined as one value. */
function fieldOf(headers: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === name)
      value = value === undefined ? headers[i + 1] : `${value}, ${headers[i + 1]}`;
  return value;
}
