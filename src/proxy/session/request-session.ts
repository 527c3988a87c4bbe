import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { grpcStatusOf } from '../../core/failure/grpc-answer.ts';
import { FAILURES } from '../../core/failure/taxonomy.ts';
import { REASONS } from '../../core/failure/wording.ts';
import type { Release } from '../../core/limits/count.ts';
import {
  type DownstreamExchange,
  type DownstreamHead,
  type FieldMap,
  fieldMap,
  hasBody,
  type ResponseSink,
} from '../../core/net/downstream.ts';
import { OwnAnswer } from '../../core/net/own-answer.ts';
import { logRequest } from '../../observe/log/access-log.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { endServerSpan, type RequestSpans, startServerSpan } from '../../observe/tracing/spans.ts';
import { acmeChallenge } from '../accept/acme-challenge.ts';
import type { RawRequestInfo } from '../accept/client-error.ts';
import type { ListenerFacts, Refusal } from '../accept/listener.ts';
import { OPTIONS_ANSWER } from '../accept/options-answer.ts';
import { checkRequest, maxForwardsSpent } from '../accept/request-checks.ts';
import { type ErrorResponseFacts, rawErrorResponse, writeErrorResponse } from '../decide/error-response.ts';
import { type HeaderEdit, headerEdit, type TemplateVars } from '../forward/header-rules.ts';
import { hostnameOf } from '../route/request-target.ts';
import { type Admitted, admit } from './admit.ts';
import { Attempts } from './attempts.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import { CacheRun } from './cache-run.ts';
import { originOf, recordOf, refusedRecordOf, serverSpanOf } from './record-of.ts';
import type { Runtime } from './runtime.ts';

/** Refusals after which the request's framing may not have been consumed: the connection cannot be trusted. */
const CLOSING_STATUSES = new Set([400, 408, 413, 414, 431, 501, 505]);

/**
 * One request, from the moment the server hands it over to its log line: a plain request and an
 * upgrade alike (an upgrade differs only in its forward step, a tunnel after a 101).
 *
 * The session alone writes the record's status, answers the gateway's own errors (the one
 * error writer) and writes the log line, exactly once, when the downstream response closes.
 * The phases run in order from `run()`: accept checks → route and admit (admit.ts) →
 * select, forward and decide for each attempt (attempts.ts) → log.
 */
export class RequestSession implements AttemptsOwner {
  readonly runtime: Runtime;
  readonly listener: ListenerFacts;
  readonly exchange: DownstreamExchange;
  readonly head: DownstreamHead;
  /** The head's fields by lowercase name (made once: routing, limits and the record read them). */
  readonly fields: FieldMap;
  readonly response: ResponseSink;
  readonly record: RequestRecord;
  /** The request's spans; undefined when tracing is off. */
  readonly spans: RequestSpans | undefined;
  #attempts: Attempts | undefined;
  #cache: CacheRun | undefined;
  /** The route, once routing found one: its response rules apply to every answer. */
  #route: RouteConfig | undefined;
  /** Gives back the admission slots (once; also on close). */
  #release: Release | undefined;
  /** The accept phase refused the request: whatever it sent after its head cannot be trusted. */
  #refusedAtAccept = false;
  /** The sink refused a head the upstream sent (defence in depth): the connection closes after the answer. */
  #responseSpent = false;
  #logged = false;

  private constructor(runtime: Runtime, listener: ListenerFacts, exchange: DownstreamExchange) {
    this.runtime = runtime;
    this.listener = listener;
    this.exchange = exchange;
    this.head = exchange.head;
    this.fields = fieldMap(exchange.head.headers);
    this.response = exchange.response;
    this.record = recordOf(this.head, this.fields, runtime.trust);
    this.spans = serverSpanOf(runtime.tracing, this.record, this.head, this.fields, listener.protocol);
    this.response.onClose(this.#onClose);
  }

  /**
   * A request the server parsed, an upgrade (or CONNECT) alike: an upgrade differs only in
   * its forward step, a tunnel after a 101 (an upstream that declines it is relayed like any
   * response).
   */
  static request(runtime: Runtime, listener: ListenerFacts, exchange: DownstreamExchange): void {
    const session = new RequestSession(runtime, listener, exchange);
    // A body cannot be framed once the connection is handed over: refused.
    if (exchange.head.upgrade && hasBody(exchange.head)) {
      session.#refusedAtAccept = true;
      return session.answer(
        new Failure('http_request_error', 'an upgrade request with a body is not supported', { status: 400 }),
      );
    }
    session.#run();
  }

  /**
   * The server refused a request that has an exchange all the same (an HTTP/2 stream whose
   * `:path` is too long, or whose Host contradicts `:authority`): answered on its own sink and
   * logged like any refusal at accept; the other streams of its connection go on.
   */
  static refusedExchange(
    runtime: Runtime,
    listener: ListenerFacts,
    exchange: DownstreamExchange,
    failure: Failure,
  ): void {
    const session = new RequestSession(runtime, listener, exchange);
    session.#refusedAtAccept = true;
    session.answer(failure);
  }

  /** The server's parser refused a request before there was an exchange: answered, logged like any other. */
  static refused(runtime: Runtime, refusal: Refusal, failure: Failure, info: RawRequestInfo): void {
    const record = refusedRecordOf(refusal.remoteAddress, info, runtime.trust);
    record.failure = failure;
    record.status = failure.status;
    refusal.answer(
      rawErrorResponse(failure, {
        proxyName: runtime.name,
        requestId: record.id,
        accept: info.accept,
        nextHop: undefined,
        head: info.method === 'HEAD',
        close: true,
        pages: runtime.config.errors.pages,
        minimal: runtime.config.errors.detail === 'minimal',
      }),
    );
    logRequest(runtime.logger, record);
    runtime.metrics.requestEnded(record, 'gateway');
    endServerSpan(
      startServerSpan(runtime.tracing, record, undefined, refusal.encrypted ? 'https' : 'http'),
      record,
    );
  }

  #run(): void {
    try {
      this.#phases();
    } catch (err) {
      // A bug must cost one request a 500, never the process.
      this.answer(
        new Failure('proxy_internal_error', 'internal error while handling the request', { cause: err }),
      );
    }
  }

  #phases(): void {
    const { runtime, head } = this;
    // accept: what the server's parser lets through that a careful server must refuse.
    const refused = checkRequest(head, this.fields, runtime.config.limits);
    if (refused) {
      this.#refusedAtAccept = true;
      return this.answer(refused);
    }
    // ACME's HTTP-01 validation, on a plain listener, before routing (acme-challenge.ts).
    const challenge = acmeChallenge(runtime.acme, this.listener, head);
    if (challenge !== undefined) return this.#ownAnswer(challenge, 'http-01');
    // RFC 9110 §9.3.7, §7.6.2: `OPTIONS *` asks about this server, and an OPTIONS whose
    // Max-Forwards is spent must be answered by its recipient: Candor is both.
    if (head.method === 'OPTIONS' && (head.target === '*' || maxForwardsSpent(this.fields)))
      return this.#ownAnswer(OPTIONS_ANSWER);
    // route → admit (a cluster's shared rate limit answers later: the phases go on from there)
    const admitted = admit(runtime, this, this.record, this.listener, this);
    if (!(admitted instanceof Promise)) return this.#forward(admitted);
    // A bug must cost one request a 500, never the process (as in #run).
    admitted
      .then((decided) => this.#forward(decided))
      .catch((err) =>
        this.answer(
          new Failure('proxy_internal_error', 'internal error while handling the request', { cause: err }),
        ),
      );
  }

  #forward(admitted: Admitted | Failure | OwnAnswer): void {
    const { response } = this;
    if (admitted instanceof Failure) return this.answer(admitted);
    if (admitted instanceof OwnAnswer) return this.#ownAnswer(admitted);
    // The client left while the admission was asked: nothing to forward; the slots go back.
    if (response.closed) return admitted.release();
    // The admission slots are held until the response closes (an upgrade's, until its tunnel is up).
    response.onClose(admitted.release);
    this.#release = admitted.release;
    // select → forward → decide, per attempt (the route's cache may answer first: cache-run.ts)
    this.#attempts = new Attempts(this, admitted, this.#cache);
    if (this.#cache === undefined) this.#attempts.start();
    else this.#cache.start(admitted, this.#attempts);
  }

  // ── what the later phases report ────────────────────────────────────────────────

  /** Routing found the request's route (admit.ts). */
  routed(route: RouteConfig): void {
    this.#route = route;
    this.#cache = CacheRun.of(this, route);
  }

  /** The upstream's head went downstream with this status. */
  responded(status: number): void {
    this.record.status = status;
  }

  /** The failure the request ended with, for the log (answered or not: see answer()). */
  failed(failure: Failure): void {
    this.record.failure = failure;
  }

  /**
   * The client went away before the exchange was over: before any answer, its status is 499,
   * the log's name for that (also when it left mid-upload, before the response closed).
   */
  clientLeft(): void {
    const { record } = this;
    record.clientAborted = true;
    if (record.status === 0) record.status = FAILURES.client_closed.status;
  }

  /** The upstream switched protocols and the tunnel is up: the request's slots go back, the connection lives on. */
  tunnelled(status: number): void {
    this.record.status = status;
    this.record.upgraded = true;
    this.#release?.();
  }

  /** The sink refused to write a head the upstream sent: the connection closes after the answer. */
  responseSpent(): void {
    this.#responseSpent = true;
  }

  /**
   * The decide phase's answer for a failure before anything went downstream: the one place a
   * gateway-made error response is written.
   */
  answer(failure: Failure): void {
    const { record, response } = this;
    this.failed(failure);
    if (record.clientAborted) return;
    record.status = failure.status;
    if (response.headSent || response.closed) {
      response.abort();
      return;
    }
    const facts: ErrorResponseFacts = {
      proxyName: this.runtime.name,
      requestId: record.id,
      accept: this.fields.accept as string | undefined,
      nextHop: failure.nextHop ?? (failure.kind.shape === 'client' ? undefined : this.nextHop()),
      editHeaders: this.responseEdit(),
      head: this.head.method === 'HEAD',
      // An unread body is not worth reading, and a refused request leaves the stream in doubt.
      close:
        this.#refusedAtAccept ||
        this.#responseSpent ||
        !this.exchange.bodyComplete ||
        CLOSING_STATUSES.has(failure.status),
      // The same writer answers gRPC in its Trailers-Only form (error-response.ts).
      grpc: record.grpc,
      pages: this.runtime.config.errors.pages,
      minimal: this.runtime.config.errors.detail === 'minimal',
    };
    if (record.grpc) record.gatewayGrpcStatus = grpcStatusOf(failure);
    writeErrorResponse(response, failure, facts);
  }

  /** The name clients may see for the next hop: the upstream's, or the target's address when exposed. */
  nextHop(): string | undefined {
    const { record } = this;
    const exposed = this.runtime.config.errors.exposeUpstreamAddress;
    return exposed ? (record.target ?? record.upstream) : record.upstream;
  }

  /** The route's response rules and CORS fields for this request (undefined: none, or not routed yet). */
  responseEdit(): HeaderEdit | undefined {
    const route = this.#route;
    const rules = route?.responseHeaders && headerEdit(route.responseHeaders, this.templateVars());
    const edit =
      route?.access === undefined
        ? rules
        : this.runtime.access.answerEdit(route, { method: this.head.method, fields: this.fields }, rules);
    return this.#cache === undefined ? edit : this.#cache.edit(edit);
  }

  readonly background = (exchange: DownstreamExchange) =>
    RequestSession.request(this.runtime, this.listener, exchange);

  /** What the route's header rules' {variables} stand for in this request. */
  templateVars(): TemplateVars {
    const { record } = this;
    return { requestId: record.id, clientIp: record.clientAddress, host: hostnameOf(record.host) };
  }

  /** A redirect, a CORS preflight, `OPTIONS *`, an ACME validation (from the fleet's store, later): no upstream. */
  #ownAnswer(answer: OwnAnswer | Promise<OwnAnswer>, acme?: string): void {
    if (answer instanceof Promise) return void answer.then((a) => this.#ownAnswer(a, acme));
    const { response, record } = this;
    if (response.closed) return;
    record.status = answer.status;
    record.acme = acme;
    // RFC 9110 §8.6: a 204 has no Content-Length.
    const length = answer.status === 204 ? [] : ['content-length', String(answer.body.length)];
    const headers = [...answer.headers, ...length, 'x-request-id', record.id];
    // A body the client is still sending is not read: the connection closes after the answer.
    const close = !this.exchange.bodyComplete;
    if (close) headers.push('connection', 'close');
    const edit = this.responseEdit();
    const head = edit === undefined ? headers : edit(headers);
    response.sendHead(answer.status, REASONS[answer.status] ?? '', head, close);
    if (answer.body.length > 0 && this.head.method !== 'HEAD') response.write(answer.body);
    response.end();
  }

  // ── log ──────────────────────────────────────────────────────────────────────────

  readonly #onClose = (finished: boolean): void => {
    const { record, response } = this;
    // Closed before the whole response went out, and not because of a failure of ours or
    // the upstream's: the client left (a tunnel's end is no abort).
    if (!finished && !record.upgraded && record.failure === undefined) this.clientLeft();
    // An attempt the client's leaving cut short ends without a word back: its failure comes here.
    const gone = this.#attempts?.clientClosed();
    if (gone !== undefined) this.failed(gone);
    if (!finished && !record.upgraded && response.cutByDrain) this.#cutByDrain();
    this.#log();
  };

  /**
   * The gateway's drain deadline closed the connection, not the client: the record says so
   * (the exchange was ended the way a client that leaves ends it, so nothing retries it).
   */
  #cutByDrain(): void {
    const { record, response } = this;
    record.clientAborted = false;
    record.failure = new Failure(
      'proxy_internal_response',
      'the gateway was shutting down and its drain deadline passed: it closed the connection',
    );
    if (!response.headSent) record.status = record.failure.status;
  }

  #log(): void {
    if (this.#logged) return;
    this.#logged = true;
    logRequest(this.runtime.logger, this.record);
    this.runtime.metrics.requestEnded(this.record, originOf(this.record));
    endServerSpan(this.spans, this.record);
  }
}
