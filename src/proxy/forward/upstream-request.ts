import type { DownstreamLimits, RetryConfig, RouteConfig, TargetConfig } from '../../core/config/types.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { listValue } from '../../core/http1/syntax.ts';
import {
  type DownstreamExchange,
  type DownstreamHead,
  type FieldMap,
  hasBody,
} from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { StageRun } from '../stages/stage-run.ts';
import type { AnswerOverflow } from './answer-overflow.ts';
import type { AnswerRelays } from './answer-relay.ts';
import type { AttemptBody, DeadlineLeft, ExchangeOptions } from './exchange-options.ts';
import { GRPC_RELAYS } from './grpc-relay.ts';
import type { ReaderMemory } from './reader-memory.ts';
import { prepareBody } from './request-body.ts';
import { bufferWanted } from './request-buffering.ts';
import { buildUpstreamHeaders, withHost, withTraceparent } from './request-headers.ts';
import { StreamedBodyCopy } from './streamed-body-copy.ts';

/** What the gateway as a whole puts into every upstream request (the session's Runtime is one). */
interface GatewayFacts {
  readonly name: string;
  /** Via entries for HTTP/1.0, HTTP/1.1 and HTTP/2 clients. */
  readonly via10: string;
  readonly via11: string;
  readonly via2: string;
  /** Clients whose X-Forwarded-* and Forwarded headers are kept. */
  readonly trust: TrustList;
  readonly config: {
    readonly limits: DownstreamLimits;
    readonly errors: { readonly detail: 'full' | 'minimal' };
  };
  readonly metrics: GatewayMetrics;
  /** Where slow clients' responses go past their buffer (limits.spool: the spool's disk). */
  readonly spool: AnswerOverflow;
  /** What slow clients' responses may hold in memory, all together (limits.buffer_total). */
  readonly readerMemory: ReaderMemory;
}

/**
 * Where this request goes, as route and admit decided: admit's verdict itself (Admitted), read
 * in place (an object of its fields, made per request to hand them over, was some 50 bytes).
 */
interface Destination {
  readonly route: RouteConfig;
  /** The path the upstream sees (the route's rewrite done). */
  readonly upstreamPath: string;
  /** host[:port] the client addressed: the upstream's Host (and X-Forwarded-Host). */
  readonly authority: string;
  /** The Host each attempt's target is asked with instead (an auth call); absent: `authority`. */
  readonly targetHost?: (target: TargetConfig) => string;
  /** The access rules' edit of the request (the client's credentials dropped); absent: none. */
  readonly requestEdit?: AnswerEdit;
  /** The stages' own edit, inside `requestEdit` and made again after the route's header rules (Admitted's). */
  readonly stageEdit?: AnswerEdit;
  /** Its retry settings: a body a retry may send again is read whole first. */
  readonly upstream: { readonly config: { readonly retries: Pick<RetryConfig, 'attempts' | 'replayBody'> } };
  /** A call of the gateway's own (an auth hop's), whose answer the gateway reads. */
  readonly ownCall?: true;
}

/**
 * What the request's session adds (its attempts' owner): the route's response rules and stages
 * for it, and a body already read whole (a route stage asked for it; a call's own).
 */
interface SessionFacts {
  answerEdit(): AnswerEdit | undefined;
  stageRun(): StageRun | undefined;
  bodyInHand(): Buffer | undefined;
  /** The name clients may see for the next hop (its upstream's, or the target's address), as of now. */
  nextHop(): string | undefined;
}

/**
 * The request every attempt sends upstream, made once: the path; the headers (the client's
 * minus hop-by-hop fields, this hop's own, the route's rules, an upgrade's ask); the body, once
 * prepared; and what the exchange needs to relay the answer (this hop's Via, the route's
 * response rules, the limits). Only the trace context, the next hop's name and (for an auth
 * call) the Host differ from one attempt to the next.
 */
export class UpstreamRequest implements ExchangeOptions {
  readonly #client: DownstreamExchange;
  readonly #fields: FieldMap;
  readonly #gateway: GatewayFacts;
  readonly #to: Destination;
  /**
   * The route's response rules, its stages (which edit what goes upstream and meet the answer's
   * head), a body in hand: undefined, none.
   */
  readonly #answerEdit: AnswerEdit | undefined;
  readonly #stages: StageRun | undefined;
  readonly #bodyInHand: Buffer | undefined;
  readonly #session: SessionFacts;
  /** What each attempt tells the upstream of the deadline (TotalDeadline.upstream); undefined: nothing. */
  readonly deadline: DeadlineLeft | undefined;
  #headers: string[];
  readonly #via: string;
  /** A gRPC call: its body streams, whatever the route's request buffering (prepareBody). */
  readonly #grpc: boolean;
  #body: AttemptBody = NO_BODY;
  #prepared = false;
  /** Fields a route stage added before the first attempt (a stored answer's validators), sent after all others; undefined: none. */
  #added: readonly string[] | undefined;

  constructor(
    client: DownstreamExchange,
    /**
     * The request's head as the session reads it: the client's, with the certificate a trusted
     * proxy forwarded in place of the connection's (forwarded-certificate.ts).
     */
    head: DownstreamHead,
    fields: FieldMap,
    record: RequestRecord,
    gateway: GatewayFacts,
    to: Destination,
    /** "http" or "https": how the client reached us, for X-Forwarded-Proto. */
    protocol: string,
    session: SessionFacts,
    deadline: DeadlineLeft | undefined,
  ) {
    this.#client = client;
    this.#session = session;
    this.deadline = deadline;
    this.#fields = fields;
    this.#gateway = gateway;
    this.#to = to;
    this.#answerEdit = session.answerEdit();
    const stages = session.stageRun();
    this.#stages = stages;
    this.#bodyInHand = session.bodyInHand();
    this.#grpc = record.grpc;
    this.#via = head.versionMinor === 0 ? gateway.via10 : gateway.via11;
    const headers = buildUpstreamHeaders(head.headers, {
      clientAddress: record.clientAddress,
      trusted: gateway.trust.has(record.clientAddress),
      protocol,
      host: to.authority,
      requestId: record.id,
      traceparent: record.trace.traceparent,
      keepTracestate: record.trace.continued,
      // RFC 9110 §7.6.3: the version the request was received with ("2" for HTTP/2).
      via: head.protocol === 'HTTP/2' ? gateway.via2 : this.#via,
      clientCertificate: head.clientCertificate,
    });
    // The client's credentials go first (access's edit), so a later stage's edit (the route's
    // header rules) may still set the upstream's own Authorization; Candor's own fields are out
    // of the stages' reach (the loader refused rules that name them), so they stay last.
    const admitted = to.requestEdit === undefined ? headers : to.requestEdit(headers);
    // The plugins come after the route's header rules (docs/plugins.md): their fields are made
    // again past the rules, so that a rule removing the client's copy of a field (X-User-Id)
    // does not take the value a plugin set for it (it did: the complete example's user-header).
    const ruled = stages?.editsRequests === true ? stages.editRequest(admitted) : admitted;
    this.#headers = ruled !== admitted && to.stageEdit !== undefined ? to.stageEdit(ruled) : ruled;
    // An upgrade asks the upstream for the switch in the fields this hop owns.
    if (head.upgrade)
      this.#headers.push('connection', 'upgrade', 'upgrade', listValue(String(fields.upgrade ?? '')));
  }

  /** The path the upstream sees. */
  get path(): string {
    return this.#to.upstreamPath;
  }

  /**
   * The fields every attempt sends (but the trace context and Host, which an attempt may change):
   * the client's as access and the route's rules left them, with this hop's X-Forwarded-For,
   * Forwarded and Via (what a stage meets before the first attempt: a stored answer's Vary is matched on them).
   */
  get headers(): readonly string[] {
    return this.#headers;
  }

  /** The attempts from now on go without these fields (lowercase): a route stage asked the upstream again without them. */
  /** Fields every attempt sends after all the others (a route stage's, before the first attempt: a stored answer's validators). */
  addFields(fields: readonly string[]): void {
    if (fields.length > 0) this.#added = this.#added === undefined ? fields : [...this.#added, ...fields];
  }

  askAgainWithout(names: readonly string[]): void {
    this.#headers = this.#headers.filter((_, i, all) => !names.includes(all[i - (i % 2)].toLowerCase()));
  }

  /** The request has no body to prepare (most have none): every attempt sends none, and prepareBody() need not run. */
  get bodyless(): boolean {
    if (this.#bodyInHand !== undefined && this.#bodyInHand.length > 0) return false;
    return this.#client.body === undefined || !hasBody(this.#client.head);
  }

  /** The body every attempt sends: none until prepareBody() says. */
  get body(): AttemptBody {
    return this.#body;
  }

  /** The request has a body and prepareBody() has not given it (never run: the client was not asked for it). */
  get unread(): boolean {
    return !this.#prepared && !this.bodyless;
  }

  /**
   * The body streams to the upstream and waits for the client, not for the upstream: not all
   * in yet, and not paused by the body pump (which pauses it while the upstream's way in is full).
   */
  get waitsForClient(): boolean {
    const { body, bodyComplete } = this.#client;
    return this.#body.kind === 'stream' && !bodyComplete && body !== undefined && !body.isPaused();
  }

  /** How much of the body prepareBody() reads whole first; 0: it streams from the start. */
  get #buffer(): number {
    // A gRPC call may stream both ways: a client that waits for an answer before its next
    // message (a bidirectional chat) never ends a body read whole first, and would wait
    // for ever (nginx's grpc_pass streams too).
    if (this.#grpc) return 0;
    const { route, upstream } = this.#to;
    return bufferWanted(route, upstream.config.retries, Number(this.#fields['content-length']));
  }

  /** The body streams from the client from the start (no part of it read whole first): a `hold` never keeps it. */
  get streams(): boolean {
    return !this.bodyless && this.#bodyInHand === undefined && this.#buffer === 0;
  }

  /**
   * Prepares the body every attempt sends (request-body.ts): read whole first when request
   * buffering or a retry's replay wants it. `ready` runs once it is, `failed` with the client's
   * failure when reading it did not end; returns a cancel while a read is under way.
   */
  prepareBody(ready: () => void, failed: (failure: Failure) => void): (() => void) | undefined {
    const client = this.#client;
    const inHand = this.#bodyInHand;
    if (inHand !== undefined) {
      this.#bodyReady({ kind: 'buffer', bytes: inHand });
      ready();
      return undefined;
    }
    const { route } = this.#to;
    const { limits } = this.#gateway.config;
    return prepareBody(
      client,
      {
        hasBody: hasBody(client.head),
        buffer: this.#buffer,
        limits: {
          body: route.limits.body,
          readTimeout: limits.bodyReadTimeout,
          minRate: limits.bodyMinRate,
        },
        total: this.#gateway.readerMemory,
      },
      (body) => {
        this.#bodyReady(body);
        ready();
      },
      failed,
    );
  }

  #bodyReady(body: AttemptBody): void {
    const { retries } = this.#to.upstream.config;
    // A body that streams keeps what its attempts take, up to replay_body, where a retry may send it again.
    this.#body =
      body.kind === 'stream' && retries.attempts > 1 && retries.replayBody > 0
        ? { kind: 'stream', copy: new StreamedBodyCopy(retries.replayBody) }
        : body;
    this.#prepared = true;
    // A chunked body read whole goes out with its length, as nginx sends it.
    if (body.kind === 'buffer' && this.#client.head.bodyLength === 'chunked')
      this.#headers.push('content-length', String(body.bytes.length));
  }

  /**
   * The fields one attempt sends: `traceparent` names the attempt's own span as the upstream's
   * parent (undefined: tracing is off), `target` the one it goes to (an auth call's Host is its).
   */
  headersFor(traceparent: string | undefined, target: { readonly config: TargetConfig }): string[] {
    const { targetHost } = this.#to;
    const headers =
      targetHost === undefined ? this.#headers : withHost(this.#headers, targetHost(target.config));
    // A copy with the attempt's own traceparent: the list is shared by every attempt.
    return withAdded(
      traceparent === undefined ? headers : withTraceparent(headers, traceparent),
      this.#added,
    );
  }

  /** The next hop's name as Proxy-Status gives it now (the attempt's target's): none when errors.detail is minimal. */
  get nextHop(): string | undefined {
    return this.#gateway.config.errors.detail === 'minimal' ? undefined : this.#session.nextHop();
  }

  // What every attempt's exchange reads of the request (ExchangeOptions), read in place.

  get method(): string {
    return this.#client.head.method;
  }

  get upgrade(): boolean {
    return this.#client.head.upgrade;
  }

  /** An HTTP/1.x client takes trailers only after a chunked body; a background request's answer goes to nobody. */
  get wholeAtLength(): boolean {
    return this.#client.head.protocol !== 'HTTP/2' && this.#client.background === undefined;
  }

  get bodyLimit(): number {
    return this.#to.route.limits.body;
  }

  /**
   * A gRPC call's messages come at the pace of its conversation (a chat, a feed of events): no
   * rate is asked of them; body_idle_timeout still bounds a silence (nginx's grpc_pass alike).
   */
  get bodyRate(): ExchangeOptions['bodyRate'] {
    return this.#grpc ? NO_BODY_RATE : this.#gateway.config.limits;
  }

  get answerBuffer(): number {
    return this.#to.route.limits.buffer;
  }

  get proxyName(): string {
    return this.#gateway.name;
  }

  get ownCall(): boolean {
    return this.#to.ownCall === true;
  }

  get vias(): ExchangeOptions['vias'] {
    return this.#gateway;
  }

  get editHeaders(): AnswerEdit | undefined {
    return this.#answerEdit;
  }

  get relays(): AnswerRelays | undefined {
    return this.#grpc ? GRPC_RELAYS : undefined;
  }

  get stages(): StageRun | undefined {
    return this.#stages;
  }

  get metrics(): GatewayMetrics {
    return this.#gateway.metrics;
  }

  /**
   * Where a slow reader's answer goes past its buffer: the spool, but for a gRPC call's, which waits
   * for its client within its stream's window (the call's own flow control: an HTTP/2 upstream's
   * streams share one connection, so it holds none), where a server stream to a client that
   * stopped reading was written to disk as fast as the server made its messages.
   */
  get overflow(): AnswerOverflow | undefined {
    return this.#grpc ? undefined : this.#gateway.spool;
  }

  get readerMemory(): ReaderMemory {
    return this.#gateway.readerMemory;
  }
}

/** The body rate asked of a request whose body has none to keep (a gRPC call's). */
const NO_BODY_RATE = Object.freeze({ bodyReadTimeout: 0, bodyMinRate: 0 });

/** A body of none, the same for every request that has none. */
const NO_BODY: AttemptBody = Object.freeze({ kind: 'none' });

/** The fields with a stage's added ones after them (a copy: the list is shared by every attempt). */
function withAdded(headers: string[], added: readonly string[] | undefined): string[] {
  return added === undefined ? headers : [...headers, ...added];
}
