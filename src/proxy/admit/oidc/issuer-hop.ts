import * as oauth from 'oauth4webapi';
import { classifyFetchError } from '../../../core/failure/classify-fetch.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { unusableAnswer } from '../../../core/failure/unusable-answer.ts';
import { type Circuit, createCircuit } from '../../../core/retry/circuit.ts';
import type { Logger } from '../../../observe/log/logger.ts';
import {
  endFetchSpan,
  type FetchSpan,
  startFetchSpan,
  tracedFields,
} from '../../../observe/tracing/call-spans.ts';
import type { RequestSpans } from '../../../observe/tracing/spans.ts';
import { authHopFailure, callAuthHop, hopLooping, hopUnavailable, timedOut } from '../auth-hop.ts';
import type { AuthHopHealth } from '../auth-hop-health.ts';
import type { JwkSet } from '../jwk-set.ts';
import { RemoteJwks } from '../jwks-source.ts';
import { SignInStates } from './sign-in-states.ts';

/** The discovery document is asked for again after this; a failure then keeps the last good one. */
const DISCOVERY_TTL_MS = 60 * 60_000;
/** A failed discovery with a good document at hand is tried again after this (the keys' default least interval). */
const DISCOVERY_RETRY_MS = 30_000;
/**
 * A sign-in begins only with the provider heard from within this long: the browser sent to a
 * provider that is down would meet the browser's own error page instead of being told so.
 * Short, yet not a call per sign-in: browsers without a session cannot make the gateway ask the
 * provider more than once a second.
 */
const HEARD_MS = 1000;
/**
 * The provider's circuit: this many failures in a row open it for OPEN_MS, then one probe goes.
 * While open, a sign-in is told at once that the provider is down (503 + Retry-After) instead of
 * each waiting out its own timeout against a provider known to be down.
 */
const CIRCUIT = { consecutiveFailures: 5, openTime: 10_000, halfOpenRequests: 1 };

/**
 * One OpenID provider as an auth hop (`auth:HOST` and its path on the status page, `auth:oidc` to clients
 * unless addresses are exposed): its discovery document (OpenID Connect Discovery 1.0), kept
 * and refreshed with the last good one kept through an outage, its keys (the JWT path's
 * RemoteJwks, from the document's jwks_uri), and every call to it through Candor's auth-hop
 * call (auth-hop.ts), classified as an upstream's failures are: refused, reset, garbage 502,
 * slow 504, its 5xx and its circuit open 503 with Retry-After. Shared by the routes that name
 * the issuer, and kept across reloads (access.ts).
 */
export class IssuerHop {
  readonly issuer: URL;
  readonly health: AuthHopHealth;
  /**
   * One call to the provider, its body included: `timeout`, set by the routes (access.ts) and
   * taken by the next call. A setting, not a part of the hop's identity: a reload that changes it
   * keeps the hop, and with it the answered states that refuse a replayed callback.
   */
  timeout = 5_000;
  /**
   * The least time between two fetches of the provider's keys (a key they lack asks for one):
   * `jwks_min_refresh`, set by the routes (access.ts) and taken by the next `jwks()`.
   */
  jwksMinRefresh = 30_000;
  /** The interval and timeout the key set at hand was made with. */
  #jwksBuiltWith = '';
  readonly #logger: Logger;
  readonly #circuit: Circuit = createCircuit(CIRCUIT);

  /** The provider's circuit, for the status page's row (read only there). */
  get circuit(): Circuit {
    return this.#circuit;
  }
  #server: oauth.AuthorizationServer | undefined;
  #freshUntil = 0;
  /** When the discovery document was last had (performance.now()). */
  #heardAt = Number.NEGATIVE_INFINITY;
  #discovering: Promise<oauth.AuthorizationServer> | undefined;
  #jwks: RemoteJwks | undefined;
  /** The sign-ins' states answered: kept with the provider, so a reload (which builds the routes' rules anew) forgets none. */
  readonly states = new SignInStates();
  /**
   * The provider's answers not yet judged, with whether each went as the circuit's probe: an
   * answer is a success or a failure only once read (`read`), as a 200 or a 404 whose body is
   * not what was asked for is the provider's garbage.
   */
  readonly #unread = new WeakMap<Response, boolean>();
  /** The spans of the traced answers not yet read: a call is over once its body is (call-spans.ts). */
  readonly #spans = new WeakMap<Response, FetchSpan>();
  /** The latest discovery's failure; undefined once one succeeds. */
  #lastFailure: Failure | undefined;
  /**
   * The refusals of the open circuit (#call), as thrown: counted on the row (each reached a user)
   * but never its `last_failure`, which keeps the provider's own failure that opened it.
   */
  readonly #refusals = new WeakSet<Failure>();

  constructor(issuer: string, health: AuthHopHealth, logger: Logger) {
    this.issuer = new URL(issuer);
    this.health = health;
    this.#logger = logger;
  }

  /** What oauth4webapi is told of every call: through the hop, and http allowed where the issuer is http (a loopback provider). */
  get options(): { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: boolean } {
    return this.optionsFor(undefined);
  }

  /**
   * The same for a call made for one request (the token endpoint's): traced as a span of its own
   * under `spans`' server span. The discovery document and the keys are the provider's, fetched
   * once for every request (and refreshed behind them): they have none.
   */
  optionsFor(spans: RequestSpans | undefined): {
    [oauth.customFetch]: typeof fetch;
    [oauth.allowInsecureRequests]: boolean;
  } {
    return {
      [oauth.customFetch]: (url: string | URL | Request, init?: RequestInit) =>
        this.#call(String(url), init ?? {}, spans),
      [oauth.allowInsecureRequests]: this.issuer.protocol === 'http:',
    } as { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: boolean };
  }

  /** The last good discovery document, whatever its age (a logout during an outage still finds end_session_endpoint). */
  get lastGood(): oauth.AuthorizationServer | undefined {
    return this.#server;
  }

  /**
   * The discovery document: the one at hand while fresh; when stale, the one at hand while a
   * new one is fetched behind it; with none yet, fetched (rejects with the hop's Failure).
   */
  discovery(): oauth.AuthorizationServer | Promise<oauth.AuthorizationServer> {
    const server = this.#server;
    if (server !== undefined) {
      if (performance.now() >= this.#freshUntil) void this.#discover().catch(() => undefined);
      return server;
    }
    return this.#discover();
  }

  /**
   * The discovery document, the provider heard from within HEARD_MS (asked again if not): a
   * sign-in about to send the browser there. Its failure is thrown even with a last good
   * document at hand: a sign-in begun during an outage is told the provider is down.
   */
  async heardFrom(): Promise<oauth.AuthorizationServer> {
    if (this.#server !== undefined && performance.now() - this.#heardAt < HEARD_MS) return this.#server;
    const server = await this.#discover();
    // A failure kept the last good document: not heard from, all the same.
    if (this.#lastFailure !== undefined) throw this.#lastFailure;
    return server;
  }

  /** The provider's keys, from the discovery document's jwks_uri (rejects with the hop's Failure). */
  async keys(): Promise<JwkSet> {
    return (await this.jwks()).keys();
  }

  /** The key set of the jwks_uri the document names, one kept while it names the same. */
  async jwks(): Promise<RemoteJwks> {
    const server = await this.discovery();
    const uri = server.jwks_uri;
    if (uri === undefined)
      throw this.failure(
        unusableAnswer('its discovery document names no jwks_uri'),
        'the discovery document',
      );
    // A new URL, or a reload's new interval or timeout: the keys at hand, their due time and last fetch kept.
    const settings = `${this.jwksMinRefresh} ${this.timeout}`;
    if (this.#jwks?.url !== uri || this.#jwksBuiltWith !== settings) {
      const next = new RemoteJwks(uri, this.health, this.jwksMinRefresh, this.#logger, this.timeout);
      if (this.#jwks !== undefined) next.adopt(this.#jwks);
      this.#jwks = next;
      this.#jwksBuiltWith = settings;
    }
    return this.#jwks;
  }

  /**
   * The provider's answer to a call, read by oauth4webapi (`read`), and the circuit told how the
   * call went: an answer it refuses (not JSON, a member missing, a 404 page) is the provider's
   * garbage, a failure as its 5xx is (five in a row open the circuit); a refusal in the
   * provider's own words (a token endpoint's 400 `invalid_grant`: oauth4webapi's
   * ResponseBodyError) is the provider answering, and so is what `sound` says of the error (the
   * answer as it should be to what the client brought: an ID token of another sign-in's code).
   */
  async read<T>(answer: Response, read: () => Promise<T>, sound?: (err: unknown) => boolean): Promise<T> {
    const probe = this.#unread.get(answer);
    this.#unread.delete(answer);
    const span = this.#spans.get(answer);
    this.#spans.delete(answer);
    try {
      const value = await read();
      if (probe !== undefined) this.#circuit.record(performance.now(), false, probe);
      endFetchSpan(span, answer.status);
      return value;
    } catch (err) {
      const refused = (err instanceof oauth.ResponseBodyError && err.status < 500) || sound?.(err) === true;
      if (probe !== undefined) this.#circuit.record(performance.now(), !refused, probe);
      // A refusal in the provider's words is its answer; anything else, the hop's failure (its garbage, its body cut or slow).
      endFetchSpan(span, refused ? answer.status : this.failure(err, 'its answer'));
      throw err;
    }
  }

  /** `err` (what a call to the provider or oauth4webapi threw) as the hop's failure, in `what`. */
  failure(err: unknown, what: string): Failure {
    if (err instanceof Failure)
      return err.nextHop === this.health.name ? err : authHopFailure(err, this.health.name, what);
    return authHopFailure(bodyFailure(err, this.timeout), this.health.name, what);
  }

  /**
   * `err` at the token endpoint (a sign-in's code, a renewal, the ID token it answered) as the
   * hop's failure, counted on its row: the discovery document and the keys count theirs where
   * they are fetched, so a failure already the hop's (one of theirs, passed on) is not counted again.
   */
  tokenEndpointFailure(err: unknown): Failure {
    if (err instanceof Failure && err.nextHop === this.health.name) return err;
    const failure = this.failure(err, 'the token endpoint');
    this.health.failed(failure, this.#refused(err));
    return failure;
  }

  /** Whether `err` is the open circuit's refusal, no call made. */
  #refused(err: unknown): boolean {
    return err instanceof Failure && this.#refusals.has(err);
  }

  #discover(): Promise<oauth.AuthorizationServer> {
    this.#discovering ??= this.#fetchDiscovery().finally(() => {
      this.#discovering = undefined;
    });
    return this.#discovering;
  }

  async #fetchDiscovery(): Promise<oauth.AuthorizationServer> {
    try {
      const answer = await oauth.discoveryRequest(this.issuer, { ...this.options, algorithm: 'oidc' });
      const server = await this.read(answer, () => oauth.processDiscoveryResponse(this.issuer, answer));
      this.#server = server;
      this.#freshUntil = performance.now() + DISCOVERY_TTL_MS;
      this.#heardAt = performance.now();
      this.#lastFailure = undefined;
      this.health.fetched();
      return server;
    } catch (err) {
      const failure = this.failure(err, 'the discovery document');
      this.health.failed(failure, this.#refused(err));
      this.#lastFailure = failure;
      if (this.#server === undefined) throw failure;
      // The last good document stays; asked again after DISCOVERY_RETRY_MS.
      this.#freshUntil = performance.now() + DISCOVERY_RETRY_MS;
      this.#logger.warn(
        { hop: this.health.name, error: failure.type, details: failure.details },
        'OpenID discovery failed: keeping the last good document',
      );
      return this.#server;
    }
  }

  /**
   * One call to the provider, through its circuit and the auth-hop call: its 5xx and 429 (and a
   * loop it tells of) are its unavailability, thrown as the hop's; any other answer is
   * oauth4webapi's to read (a token endpoint's 400 invalid_grant is the sign-in's, not the hop's).
   */
  async #call(url: string, init: RequestInit, spans: RequestSpans | undefined): Promise<Response> {
    const now = performance.now();
    const admitted = this.#circuit.admit(now);
    if (!admitted.allowed) {
      const refusal = new Failure(
        'destination_unavailable',
        `its circuit is open after ${CIRCUIT.consecutiveFailures} failures in a row`,
        { retryAfter: Math.max(1, Math.ceil(admitted.retryAfterMs / 1000)) },
      );
      this.#refusals.add(refusal);
      throw refusal;
    }
    const span = startFetchSpan(spans, init.method ?? 'GET', new URL(url), this.health.name);
    let answer: Response;
    try {
      answer = await callAuthHop(
        url,
        span === undefined ? init : { ...init, headers: tracedFields(span, init.headers) },
        this.timeout,
      );
    } catch (err) {
      // The gateway's own want (no file descriptor or local port for the call:
      // proxy_resources_exhausted) asked the provider nothing: no failure of its in a row, or
      // five of them opened its circuit, every sign-in refused for the provider once they were back.
      if (err instanceof Failure && err.shape === 'gateway') {
        if (admitted.probe) this.#circuit.releaseProbe();
      } else this.#circuit.record(performance.now(), true, admitted.probe);
      endFetchSpan(span, this.failure(err, 'the call'));
      throw err;
    }
    const down = answer.status >= 500 || answer.status === 429;
    if (!down) {
      this.#unread.set(answer, admitted.probe);
      if (span !== undefined) this.#spans.set(answer, span);
      return answer;
    }
    this.#circuit.record(performance.now(), true, admitted.probe);
    endFetchSpan(span, answer.status);
    void answer.body?.cancel();
    throw (
      hopLooping(answer.status, answer.headers.get('proxy-status') ?? undefined) ??
      hopUnavailable(answer.status, answer.headers.get('retry-after'))
    );
  }
}

/**
 * What went wrong past the provider's head, as oauth4webapi read its body: the call's time bound
 * running out (504), the connection cut (502 by its shape), or an answer it refuses (not JSON,
 * a member missing or wrong: the provider's garbage, 502).
 */
function bodyFailure(err: unknown, timeout: number): Failure {
  for (let cause = err; cause instanceof Error; cause = cause.cause) {
    if (timedOut(cause))
      return new Failure('http_response_timeout', `its answer did not arrive within ${timeout / 1000} s`, {
        stage: 'head_received',
      });
    if (cause instanceof TypeError && cause.message === 'terminated')
      return classifyFetchError(cause, 0, 'head_received');
  }
  return unusableAnswer(err instanceof Error ? err.message : String(err));
}
