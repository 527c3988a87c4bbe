/**
 * The stage contract: what a feature of a route may do to a request, and nothing else.
 *
 * Every feature a route switches on is a stage, built once per route when a config loads
 * (route-stages.ts) and swapped with it on reload. A request meets the stages' hooks in a fixed
 * order, the hooks of one kind in the stages' order:
 *
 *   1. on the request (`onRequest`): go on, answer it (an OwnAnswer; a StreamedAnswer for a body
 *      streamed with a known length, own-answer.ts) or refuse it (a Failure),
 *      possibly after waiting (a promise);
 *   2. on the upstream's head (`onUpstreamHead`): the fields the client gets of the upstream's
 *      answer (the upstream's answers only), or ask the upstream again, possibly after waiting;
 *   3. around the upstream's answer's body (`wrapSink`): the sink its bytes go through;
 *   4. on every answer's head (`editAnswer`): the fields of any answer, the upstream's, the
 *      gateway's own and its error responses alike (response header rules), told which are the
 *      error responses (the cache's Cache-Status stays off those);
 *   5. at the end (`onEnd`): count it, once the log line's record is whole.
 *
 * and, for a stage that may answer in the upstream's place (the response cache):
 *
 *   1b. before the first attempt (`onForward`), with what every attempt sends: answer it instead
 *       (a StageAnswer), refuse it, or go on (adding fields every attempt sends), possibly after waiting;
 *   2b. on the upstream's head (`onUpstreamHead`): answer instead (`{ answer }`: the upstream's
 *       answer is not relayed, and the attempt is over);
 *   3b. once the upstream's head went downstream (`onRelayed`): a copy of its body as it streams;
 *   4b. on a failure the request would end with (`onFailure`): an answer instead of the
 *       gateway's error response (serve stale).
 *
 * A stage defines only the hooks it uses: a hook it leaves out costs nothing, and a route with
 * no stage runs no stage code at all. What a stage cannot do is make the gateway lie: it never
 * sees the status or the Proxy-Status of an answer the gateway made for a failure, cannot take
 * out the fields the gateway writes itself, and a stage that throws (or overruns its time) is a
 * 500 `proxy_internal_error` naming it and the hook (stage-failure.ts), never a hang or a dead worker.
 */
import type { AttemptCounter } from '../../core/failure/attempt-counter.ts';
import type { Failure } from '../../core/failure/failure.ts';
import type { BufferBudget } from '../../core/net/buffer-budget.ts';
import type { AnswerSink, BackgroundRequest, DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';

/** What a stage reads of one request (and, through `upstreamFields`, what it may change of what goes upstream). */
export interface StageRequest {
  readonly head: DownstreamHead;
  /** The head's fields by lowercase name, as the client sent them. */
  readonly fields: FieldMap;
  /**
   * The fields as the access stages' edit leaves them once they let the request in (the identity
   * field the gateway writes, a JWT's claims in; the client's own copies of those, the session's
   * cookies out; Authorization kept, as fields-after-access.ts keeps it): what a plugin reads as
   * what goes upstream. Before access decided, `fields`.
   */
  admittedFields(): FieldMap;
  readonly record: RequestRecord;
  /** The request's spans, under which the calls the gateway makes for it are traced; undefined when tracing is off. */
  readonly spans?: RequestSpans;
  /** The host the request was routed by: lower-cased, without the port. */
  readonly host: string;
  /** The request's id (X-Request-Id upstream, the log's `id`). */
  readonly requestId: string;
  /**
   * The client as the gateway's IP lists judge it: behind proxies in `trust_forwarded_from`, the
   * one they vouch for (as nginx's realip makes `$remote_addr`); `unknown` when a trusted hop's
   * own entry names no address (`unknown`, `_hidden`, garbage), never that proxy's own address.
   */
  readonly clientIp: string;
  /**
   * A request a stage made itself (a stored answer's refresh), not a client: no client reads its
   * answer, and it goes to the upstream it names (a stage that chooses upstreams honours it);
   * undefined: a client's request.
   */
  readonly background: BackgroundRequest | undefined;
  /** The route's name. */
  readonly route: string;
  /** The request's path in its normal form, query included: what the routes matched (before the route's rewrite). */
  readonly path: string;
  /** The path the upstream receives, normalised (and rewritten by the route), with its query. */
  readonly upstreamPath: string;
  /**
   * Edits of the request's fields on their way upstream, after the access stages' own and before
   * the other stages' `requestEdit` (the route's header rules): lowercase name → value, or undefined to take every field of that
   * name out. The fields Candor writes itself are out of reach (their edits are dropped).
   */
  readonly upstreamFields: Map<string, string | undefined>;
  /** The edits of `upstreamFields` made so far, without making the map (undefined: none). */
  readonly upstreamEdits: ReadonlyMap<string, string | undefined> | undefined;
  /**
   * The request's whole body, read at a stage's ask (a plugin's `request.body()`) up to `limit`
   * bytes and the route's `limits.buffer`, once: a later ask gets the same bytes, and every
   * attempt sends them upstream as they came (a request no stage asks streams as it always did).
   * Rejects with the client's failure: 413 past the bound (`reader`, the stage, named in its
   * details), 408 too slow, client_closed.
   */
  readBody(limit: number, reader: string): Promise<Buffer>;
  /** The body readBody read whole, once it has; undefined: none was read (it goes as it comes). */
  readonly bodyRead: Buffer | undefined;
  /** Milliseconds spent so far waiting for the client's body at a stage's ask: the client's time, not the stage's. */
  bodyWaitMs(): number;
  /** A read of readBody still under way (a stage that went on without waiting for it): the request goes on only once it ended. */
  readonly bodyReading: Promise<void> | undefined;
  /** host[:port] the client addressed. */
  readonly authority: string;
  /** How the client reached the gateway: "http" or "https" (behind a trusted proxy, what it vouches for). */
  readonly scheme: string;
  /** The listener the request came on, as served (its scheme behind a trusted proxy): a request the gateway makes from it runs there too. */
  readonly listener: StageListener;
  /** The client's response closed (answered, or the client left): nothing more goes to it. */
  readonly closed: boolean;
}

/** What the access stages made of the request, as the request stages meet it. */
export interface AdmittedRequest {
  /** Their edit of the request's fields on the way upstream (a JWT's claims in, the client's copies out); undefined: none. */
  readonly requestEdit?: AnswerEdit;
}

/**
 * The upstream a stage chose for a request (a split's side, a canary's): one of the config's, by
 * name, and what counts each attempt's outcome there once the attempt is over (a canary's
 * window: the per-attempt end hook); undefined: none counts.
 */
export interface UpstreamChoice {
  readonly upstream: string;
  readonly window?: AttemptCounter;
}

/** How a stage settles a request: go on (undefined), answer it itself, or refuse it with a failure of the taxonomy. */
export type RequestVerdict = undefined | OwnAnswer | Failure;

/** The head of an upstream's answer as a stage sees it: its status, and its fields to edit in place ([name, value, …]). */
export interface UpstreamAnswerHead {
  readonly status: number;
  readonly headers: string[];
  /** The upstream's fields as it sent them (not this hop's: what a stage keeps of the answer reads these). */
  readonly received: readonly string[];
}

/**
 * What a stage makes of an upstream's answer's head: relay it (its fields as the stage left them),
 * or ask the upstream again without the request fields named (the answer is not relayed; a
 * request whose body streamed from the client cannot go again, and relays it), or answer in its
 * place (the answer is not relayed, and the attempt is over with the upstream's status).
 */
export type HeadVerdict =
  | undefined
  | { readonly askAgainWithout: readonly string[] }
  | { readonly answer: StageAnswer };

/** One request's run of a stage: the hooks it uses for this request. */
export interface StageHooks {
  onRequest?(admitted: AdmittedRequest): RequestVerdict | Promise<RequestVerdict>;
  /**
   * Possibly after waiting (a promise, bounded by the stage's `timeoutMs`): the exchange holds the
   * answer meanwhile (its body read so far kept, the upstream paused), and nothing goes downstream.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only edits the fields returns nothing
  onUpstreamHead?(head: UpstreamAnswerHead): HeadVerdict | void | Promise<HeadVerdict | void>;
  /** Around the response body of the upstream's answer (each attempt's): the sink it writes to (compression). */
  wrapSink?(sink: AnswerSink, budget: BufferBudget | undefined): AnswerSink;
  /** `failed`: the answer is the gateway's error response for a failure (AnswerEdit). */
  editAnswer?(headers: readonly string[], failed: boolean): string[];
  /**
   * The fields of an upstream's interim (1xx) answer on its way to the client (a `103 Early
   * Hints`), which is no answer of the route's: what must never reach the client leaves it too.
   * Met for a `trusted` stage only (Candor's own: the header rules' `remove` and `set` names).
   */
  editInterim?(headers: readonly string[]): readonly string[];
  /**
   * The fields of an upgrade's `101 Switching Protocols`, the request's answer, which no header
   * rule edits (the tunnel's head goes as the upstream sent it): what the request's own work
   * must tell the client all the same, an OpenID Connect session renewed on the upgrade (its
   * cookies: the browser would keep the session whose refresh token the renewal spent). Met for
   * a `trusted` stage only.
   */
  editSwitch?(headers: readonly string[]): readonly string[];
  /** `finished`: the answer went out whole (false: cut, or the client left); a promise is told once settled. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a stage that counts at once returns nothing
  onEnd?(record: RequestRecord, finished: boolean): void | Promise<unknown>;
  /**
   * Before the first attempt, with what every attempt sends (after every stage's onRequest): go on
   * (undefined), answer in the upstream's place, or refuse it (a failure the request ends with, as
   * any attempt's), possibly after waiting (a promise, bounded by the stage's `timeoutMs` when finite).
   */
  onForward?(request: ForwardedRequest): BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict>;
  /**
   * The upstream's head went downstream: a copy of its body as it streams (stored once whole),
   * undefined for none. Too late for a 500: a stage that throws here is logged, and the answer goes on.
   */
  onRelayed?(head: RelayedHead): BodyCopy | undefined;
  /**
   * No attempt answered, and the request would end with this failure (or wait for a target: a
   * hold): an answer in the gateway's error response's place (a stored answer standing in), or
   * undefined. A stage that throws here is the request's 500 naming it, in place of the failure.
   */
  onFailure?(failure: Failure): StageAnswer | undefined;
  /**
   * The run gave up on this stage's hook under way (it overran its time): whatever it settles to
   * later is no part of the request, which went on or was answered without it (no answer, no
   * edit, no field of the log line).
   */
  abandon?(): void;
  /**
   * An edit of the request's fields on their way upstream. An access stage's (a JWT's claims in,
   * the client's credentials out) is asked once its onRequest went on: the stages after the
   * access stages meet it as `AdmittedRequest.requestEdit`, and the admit policies read the
   * fields as it leaves them (a rate limit's or a split's key on a field). Another stage's (the
   * route's request header rules) is asked once, as the upstream's request is made: after the
   * access stages' edit and every stage's `upstreamFields`, in the stages' order.
   */
  requestEdit?(): AnswerEdit | undefined;
  /**
   * The upstream the request goes to instead of the route's own (a split, a canary), chosen past
   * the access stages and before the admit policies; the first stage that chooses wins. Undefined:
   * it leaves the choice to the next stage, or to the route. `fields`: as access left them where
   * the route keys on a field (its `hash_key: header:X-User-Id` is the user a JWT named, never the
   * client's copy), else as the client sent them (no copy made for a route that keys on none).
   */
  chooseUpstream?(fields: FieldMap): UpstreamChoice | undefined;
  /**
   * A request waiting in its upstream's `hold`: the upstreams it may go to now instead, in order,
   * the first the one chooseUpstream would choose for it now when `redraw` (after a rollback, the
   * baseline); the one it waits for may be among them. The core sends it to the first that has a
   * target in rotation, and wakes it when one of the others comes back.
   */
  upstreamsNow?(redraw: boolean): readonly string[];
}

/** A feature of a route, built once per route when a config loads. */
export interface RouteStage {
  /** What the stage is called where its failure is told: `plugin:NAME`, `header_rules`… */
  readonly name: string;
  /**
   * How long an asynchronous hook may take, in ms (the request is answered 500 after it);
   * Infinity for a stage whose every wait has a bound of its own (access control: each auth hop's timeout).
   */
  readonly timeoutMs: number;
  /**
   * A failure of the stage is logged and counted, and the request goes on as if the stage had
   * not been there (a stage that only observes); otherwise it is the request's 500.
   */
  readonly failOpen: boolean;
  /**
   * Candor's own stage, which leaves the gateway's own fields alone: the runner does not guard
   * them around its upstream-head hook (it does around any other's), and counts only its
   * failures (every call of another's is counted and timed: a plugin's cost is its operator's to see).
   */
  readonly trusted?: boolean;
  /** What the stage's author calls a hook, where its failure is told (a plugin's `onResponse` is the contract's onUpstreamHead). */
  readonly hookNames?: Partial<Record<StageHook, string>>;
  /** This request's run of the stage; undefined when it has nothing to do for it. */
  start(request: StageRequest): StageHooks | undefined;
  /**
   * Whether the stage may have something to do for a request of this method and these fields,
   * known from its head alone (absent: it may, for any). A route whose every stage says no to a
   * request runs it as a plain route's, without the objects a stage run takes (the invalidation a
   * route keeps for another's cache meets only the unsafe methods: a GET beside it costs nothing).
   */
  meets?(method: string, fields: FieldMap): boolean;
  /** The config that built it was replaced, and the requests it served are over (or given up on). */
  close?(): Promise<void> | void;
  /**
   * An access stage (IP lists, authentication): first in its route's order, its onRequest runs
   * before the route's admit policies (a redirect, the body limit, maintenance, rate limits, load
   * shedding), which read the identity it names (`limits.per_client.key: identity`) and the fields
   * as its `requestEdit` leaves them; the other stages' onRequest runs after them.
   */
  readonly access?: boolean;
}

/** What the runner tells of a stage's failure (the log, the metrics). */
export interface StageWatch {
  /**
   * A hook ran, and how long it took (ms); `failure` when it threw, rejected or overran, of the
   * request whose id is `request`, which went on without the stage when `wentOn` (it fails open, or too late).
   */
  ran(
    stage: string,
    hook: StageHook,
    ms: number,
    failure?: Failure,
    request?: string,
    wentOn?: boolean,
  ): void;
}

export type StageHook =
  | 'start'
  | 'onRequest'
  | 'onUpstreamHead'
  | 'wrapSink'
  | 'editAnswer'
  | 'editInterim'
  | 'editSwitch'
  | 'onEnd'
  | 'chooseUpstream'
  | 'upstreamsNow'
  | 'onForward'
  | 'onRelayed'
  | 'onFailure';

/**
 * A stage with every hook passing the request on (as Envoy's PassThroughFilter): a feature
 * extends it and overrides what it uses.
 */
export class PassThroughStage implements RouteStage {
  readonly name: string;
  readonly timeoutMs: number = 1000;
  readonly failOpen: boolean = false;

  constructor(name: string) {
    this.name = name;
  }

  start(_request: StageRequest): StageHooks | undefined {
    return undefined;
  }
}

/** A request the stages hold for `onRequest`'s answer: what the runner gives the session back. */
export type StagedVerdict = RequestVerdict | Promise<RequestVerdict>;

/**
 * The listener a request came on, as a stage sees it: its name and scheme ("http" or "https",
 * a trusted proxy's word included). The composition root, which made it, reads the rest.
 */
export interface StageListener {
  readonly name: string;
  readonly protocol: string;
}

/** What every attempt will send, as a stage meets it before the first one (onForward). */
export interface ForwardedRequest {
  /** The upstream the request goes to (a split route's side drawn). */
  readonly upstream: string;
  /** host[:port] the client addressed. */
  readonly authority: string;
  /** The path (query included) the upstream receives. */
  readonly path: string;
  /** The fields every attempt sends: the client's as access, the stages and the route's rules left them, with this hop's. */
  readonly headers: readonly string[];
  /** Fields every attempt sends after those (a stored answer's validators). */
  addFields(fields: readonly string[]): void;
  /** Every attempt goes without these fields (lowercase names): a HEAD's Range on a cached route. */
  dropFields(names: readonly string[]): void;
}

/** How a stage settles a request before the first attempt: go on (undefined), answer it, or end it with a failure. */
export type BeforeAttemptsVerdict = undefined | StageAnswer | Failure;

/**
 * An answer a stage gives whole in the upstream's place (a stored answer): it writes itself to
 * the client through `out`, which makes its head as every answer's is made (this hop's fields,
 * then every stage's edit).
 */
export interface StageAnswer {
  send(out: AnswerOut): void;
}

/** What a StageAnswer writes through: the client's sink, and the head every answer of the gateway gets. */
export interface AnswerOut {
  readonly sink: AnswerSink;
  /** The client's body is not all read: the connection closes after the answer. */
  readonly close: boolean;
  /** What a sink around the client's may hold for it (a compressing sink's). */
  readonly budget: BufferBudget | undefined;
  /** The name clients may see for the next hop (a Proxy-Status of an answer standing in for its failure). */
  nextHop(): string | undefined;
  /** The answer goes out with this status (the log's): said before its head is made. */
  responded(status: number): void;
  /**
   * The head of an answer first received in HTTP `version` (its Via names it) with these fields:
   * this hop's added (the request id, Via, `proxyStatus` when it stands in for a failure), then
   * every stage's edit.
   */
  head(fields: readonly string[], version: string, proxyStatus: string | undefined): string[];
  /** The sink refused the head (an HTTP/2 client's header list size): the gateway's error response says so instead. */
  refused(failure: Failure): void;
  /**
   * After the head went, the body cannot be given whole (what it streamed from failed): the
   * request ends with `failure` and the client sees its answer cut, as a relayed body cut short is.
   */
  cut(failure: Failure): void;
}

/** The upstream's head as it went downstream: its status, reason, its own fields (as it sent them) and the HTTP version it answered in. */
export interface RelayedHead {
  readonly status: number;
  readonly reason: string;
  /** The upstream's fields as it sent them, less those the stages' onUpstreamHead took out (keptFields). */
  readonly fields: readonly string[];
  readonly version: string;
}

/** A copy of an answer's body on its way to the client (onRelayed): kept only when it ends whole. */
export interface BodyCopy {
  add(chunk: Buffer): void;
  /** The upstream's framing said the body is whole. */
  end(): void;
}
