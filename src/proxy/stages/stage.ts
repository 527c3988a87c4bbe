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
 *      gateway's own and its error responses alike (response header rules);
 *   5. at the end (`onEnd`): count it, once the log line's record is whole.
 *
 * A stage defines only the hooks it uses: a hook it leaves out costs nothing, and a route with
 * no stage runs no stage code at all. What a stage cannot do is make the gateway lie: it never
 * sees the status or the Proxy-Status of an answer the gateway made for a failure, cannot take
 * out the fields the gateway writes itself, and a stage that throws (or overruns its time) is a
 * 500 `proxy_internal_error` naming it and the hook (stage-failure.ts), never a hang or a dead worker.
 */
import type { Failure } from '../../core/failure/failure.ts';
import type { DownstreamHead, FieldMap, ResponseSink } from '../../core/net/downstream.ts';
import type { HoldBudget } from '../../core/net/hold-budget.ts';
import type { AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { CanaryCounter } from '../../upstream/canary/canary-window.ts';

/** What a stage reads of one request (and, through `upstreamFields`, what it may change of what goes upstream). */
export interface StageRequest {
  readonly head: DownstreamHead;
  /** The head's fields by lowercase name, as the client sent them (after the access stages' own edit). */
  readonly fields: FieldMap;
  readonly record: RequestRecord;
  /** The host the request was routed by: lower-cased, without the port. */
  readonly host: string;
  /** A request the gateway makes itself (a stored answer's refresh): no client reads its answer. */
  readonly background: boolean;
  /** The route's name. */
  readonly route: string;
  /** The path the upstream receives, normalised (and rewritten by the route), with its query. */
  readonly upstreamPath: string;
  /**
   * Edits of the request's fields on their way upstream, after the access stages' own and before
   * the route's header rules: lowercase name → value, or undefined to take every field of that
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
  /** The path in its normal form, query included, as the routes matched it (what access control judges, never the client's spelling). */
  readonly path: string;
  /** host[:port] the client addressed. */
  readonly authority: string;
  /** How the client reached the gateway: "http" or "https" (behind a trusted proxy, what it vouches for). */
  readonly scheme: string;
  /** A background refresh (`background`) of a stored answer: the upstream that answer came from, which it asks again (a split's side). */
  readonly refreshSide: string | undefined;
}

/** What the access stages made of the request, as the request stages meet it. */
export interface AdmittedRequest {
  /** Their edit of the request's fields on the way upstream (a JWT's claims in, the client's copies out); undefined: none. */
  readonly requestEdit?: AnswerEdit;
}

/**
 * The upstream a stage chose for a request (a split's side, a canary's): one of the config's, by
 * name, and what counts each attempt's outcome there once the attempt is over (a canary's
 * window: the per-attempt end hook, upstream/canary/canary-window.ts); undefined: none counts.
 */
export interface UpstreamChoice {
  readonly upstream: string;
  readonly window?: CanaryCounter;
}

/** How a stage settles a request: go on (undefined), answer it itself, or refuse it with a failure of the taxonomy. */
export type RequestVerdict = undefined | OwnAnswer | Failure;

/** The head of an upstream's answer as a stage sees it: its status, and its fields to edit in place ([name, value, …]). */
export interface UpstreamAnswerHead {
  readonly status: number;
  readonly headers: string[];
}

/**
 * What a stage makes of an upstream's answer's head: relay it (its fields as the stage left them),
 * or ask the upstream again without the request fields named (the answer is not relayed; a
 * request whose body streamed from the client cannot go again, and relays it).
 */
export type HeadVerdict = undefined | { readonly askAgainWithout: readonly string[] };

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
  wrapSink?(sink: ResponseSink, budget: HoldBudget | undefined): ResponseSink;
  editAnswer?(headers: readonly string[]): string[];
  onEnd?(record: RequestRecord): void;
  /**
   * The run gave up on this stage's hook under way (it overran its time): whatever it settles to
   * later is no part of the request, which went on or was answered without it (no answer, no
   * edit, no field of the log line).
   */
  abandon?(): void;
  /**
   * An access stage's edit of the request's fields on their way upstream (a JWT's claims in, the
   * client's credentials out), asked once its onRequest went on: the stages after the access
   * stages meet it as `AdmittedRequest.requestEdit`, and the admit policies read the fields as it
   * leaves them (a rate limit's or a split's key on a field).
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
  /** A hook ran, and how long it took (ms); `failure` when it threw, rejected or overran. */
  ran(stage: string, hook: StageHook, ms: number, failure: Failure | undefined): void;
}

export type StageHook =
  | 'start'
  | 'onRequest'
  | 'onUpstreamHead'
  | 'wrapSink'
  | 'editAnswer'
  | 'onEnd'
  | 'chooseUpstream'
  | 'upstreamsNow';

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
