import { drainCutFailure, Failure } from '../../core/failure/failure.ts';
import { grpcStatusOf, toldGrpcStatus } from '../../core/failure/grpc-answer.ts';
import { GRPC_CODES } from '../../core/failure/grpc-codes.ts';
import { FAILURES } from '../../core/failure/taxonomy.ts';
import { Count, type Release, type Taken } from '../../core/limits/count.ts';
import type { DownstreamExchange, DrainCut } from '../../core/net/downstream.ts';
import { type AnswerEdit, OwnAnswer } from '../../core/net/own-answer.ts';
import { NO_ANSWER } from '../../observe/log/request-record.ts';
import { acceptRequest } from '../accept/accept-request.ts';
import type { RawRequestInfo } from '../accept/client-error.ts';
import type { ListenerFacts, Refusal, Unserved } from '../accept/request-handlers.ts';
import { type Admitted, type AdmittedHere, admitRequest } from '../admit/admit-request.ts';
import { gatewayErrorFacts, refusalAnswer, writeErrorAnswer } from '../decide/error-answer.ts';
import { upstreamStatusUnread } from '../forward/grpc-relay.ts';
import { type Routed, routeRequest } from '../route/route-request.ts';
import type { RequestVerdict, StageAnswer } from '../stages/stage.ts';
import type { StageRun } from '../stages/stage-run.ts';
import { Attempts } from './attempts.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import { logPhase } from './log-phase.ts';
import { sendOwnAnswer } from './own-body.ts';
import { answerNeverLeft, ownCutOf } from './own-cut.ts';
import { refusedRecordOf, refusedSpanOf, routedAs } from './record-of.ts';
import type { Runtime } from './runtime.ts';
import { type SessionRequest, sessionRequestOf } from './session-request.ts';
import { sendStageAnswer, startAttempts } from './stage-answer.ts';
import { stageRequestOf, unanswered, withStageEdits } from './stage-request.ts';

/**
 * One request, from the moment the server hands it over to its log line: a plain request and an
 * upgrade alike (an upgrade differs only in its forward step, a tunnel after a 101).
 *
 * The session alone writes the record's status, answers the gateway's own errors (the one
 * error writer) and writes the log line, exactly once, when the downstream response closes.
 * The phases run in order from `run()`: accept checks → route, access, admit (admit-request.ts) →
 * select, forward and decide for each attempt (attempts.ts) → log.
 */
export class RequestSession implements AttemptsOwner {
  /** The request, as the phases read it (the attempts too). */
  readonly #req: SessionRequest;
  #attempts: Attempts | undefined;
  /** This request's run of its route's stages (stage-run.ts); undefined when the route has none for it. */
  #stages: StageRun | undefined;
  /** Gives back the admission slots (once; also on close). */
  #release: Release | undefined;
  /** The accept phase refused the request: whatever it sent after its head cannot be trusted. */
  #refusedAtAccept = false;
  #onSnapshot: Taken | undefined; // its place in its snapshot's Runtime.requests until its line (undefined: logged)

  private constructor(runtime: Runtime, listener: ListenerFacts, exchange: DownstreamExchange) {
    this.#req = sessionRequestOf(runtime, listener, exchange);
    this.#onSnapshot = runtime.requests.take();
    exchange.answer.onClose(this.#onClose);
  }

  /** A request the server parsed, an upgrade (or CONNECT) alike (a tunnel after a 101, or relayed like any response). */
  static request(runtime: Runtime, listener: ListenerFacts, exchange: DownstreamExchange): void {
    new RequestSession(runtime, listener, exchange).#run();
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
    // A client past limits.per_client sent a sound request: its route's CORS fields and response
    // rules go on the 429, so a browser app reads it (a malformed request has no route to ask).
    if (failure.type === 'http_request_denied') session.#routeOnly();
    session.answer(failure);
  }

  /** The route this request would take, for its response rules only: nothing else of it runs. */
  #routeOnly(): void {
    const { runtime, listener, head, fields } = this.#req;
    const routed = routeRequest(runtime.router, runtime.config.paths, listener, head, fields);
    if (!(routed instanceof Failure)) this.#startStages(routed);
  }

  /** The server's parser refused a request before there was an exchange: answered, logged like any other. */
  static refused(runtime: Runtime, refusal: Refusal, failure: Failure, info: RawRequestInfo): void {
    const record = refusedRecordOf(refusal.remoteAddress, info, runtime.trust, refusal.startedAt);
    record.failure = failure;
    record.status = failure.status;
    record.bytesIn = refusal.bytesRead;
    refusal.answer(refusalAnswer(failure, runtime, record.id, info));
    const spans = refusedSpanOf(runtime.tracing, record, info, refusal.encrypted ? 'https' : 'http');
    logPhase(runtime, record, spans);
  }

  /**
   * A request read whole and never served (pipelined behind one whose connection was cut): its
   * line says why, and the status the client got: none, or 499 when it was the one that left.
   */
  static unserved(runtime: Runtime, request: Unserved, failure: Failure, info: RawRequestInfo): void {
    const record = refusedRecordOf(request.remoteAddress, info, runtime.trust);
    record.failure = failure;
    record.clientAborted = failure.type === 'client_closed';
    record.status = record.clientAborted ? failure.status : NO_ANSWER;
    record.bytesIn = request.bytesRead;
    const spans = refusedSpanOf(runtime.tracing, record, info, request.encrypted ? 'https' : 'http');
    logPhase(runtime, record, spans);
  }

  #run(): void {
    try {
      this.#phases();
    } catch (err) {
      this.#bug(err);
    }
  }

  /**
   * A bug must cost one request a 500, never the process (a phase that threw, or whose wait
   * rejected). A method, not a function made per request: a wait's handler is made only when a
   * phase waits (most do not).
   */
  #bug(err: unknown): void {
    this.answer(
      new Failure('proxy_internal_error', 'internal error while handling the request', { cause: err }),
    );
  }

  #phases(): void {
    const { runtime, head, fields, listener } = this.#req;
    // accept (accept-request.ts): refused, or answered by the gateway itself, or on to routing.
    const accepted = acceptRequest(runtime, head, fields);
    if (accepted !== undefined) {
      if ('answer' in accepted) return this.#ownAnswer(accepted.answer, accepted.acme);
      if ('refused' in accepted) this.#refusedAtAccept = true;
      return this.answer('refused' in accepted ? accepted.refused : accepted.failed);
    }
    // route (route-request.ts): the route's response rules apply to every answer from here on.
    const routed = routeRequest(runtime.router, runtime.config.paths, listener, head, fields);
    if (routed instanceof Failure) return this.answer(routed);
    routedAs(this.#req, routed.route);
    const stageBug = this.#startStages(routed);
    if (stageBug !== undefined) return this.answer(stageBug);
    if (routed.refused !== undefined) return this.answer(routed.refused);
    // access (the route's access stages), then admit (admit-request.ts; either may answer later)
    const admitted = admitRequest(runtime, listener, this.#req, routed, this.#stages);
    if (!(admitted instanceof Promise)) return this.#forward(admitted);
    this.#forwardLater(admitted);
  }

  /**
   * The phases that wait go on in methods of their own, a rejection being a bug (#bug): a closure
   * in a phase's body made every call of it allocate the context it captures (`this`), waited or not.
   */
  #forwardLater(admitted: Promise<Admitted | AdmittedHere | Failure | OwnAnswer>): void {
    this.#caught(admitted.then((decided) => this.#forward(decided)));
  }

  #stagedLater(verdict: Promise<RequestVerdict>, admitted: Admitted | AdmittedHere): void {
    this.#caught(verdict.then((decided) => this.#staged(decided, admitted)));
  }

  #caught(waiting: Promise<unknown>): void {
    waiting.catch((err: unknown) => this.#bug(err));
  }

  /** The route's stages, built when its config loaded (a route with none runs no stage code): their edits go on every answer from here on. */
  #startStages(routed: Routed): Failure | undefined {
    // A route with no stages, or none that meets this request, makes no StageRequest.
    const { runtime, head, fields } = this.#req;
    const route = runtime.stages.get(routed.route.name);
    if (route === undefined || !route.meets(head.method, fields)) return undefined;
    const stages = route.start(stageRequestOf(this.#req, routed, () => this.#stages?.accessEdit));
    if (stages instanceof Failure) return stages;
    this.#stages = stages;
  }

  #forward(admitted: Admitted | AdmittedHere | Failure | OwnAnswer): void {
    const { answer } = this.#req;
    if (admitted instanceof Failure) return this.answer(admitted);
    if (admitted instanceof OwnAnswer) return this.#ownAnswer(admitted);
    // The client left while the admission was asked: nothing to forward; the slots go back.
    if (answer.closed) return admitted.release();
    // The admission slots are held until the response closes (#onClose; an upgrade's, until its tunnel is up).
    this.#release = admitted.release;
    // The route's stages meet the request after access (stage.ts).
    const verdict = this.#stages?.onRequest(admitted);
    if (!(verdict instanceof Promise)) return this.#staged(verdict, admitted);
    this.#stagedLater(verdict, admitted);
  }

  /** What the stages made of the request: answered or refused by one, or on to the upstream with their edits. */
  #staged(verdict: OwnAnswer | Failure | undefined, admitted: Admitted | AdmittedHere): void {
    if (verdict instanceof Failure) return this.answer(verdict);
    if (verdict !== undefined) return this.#ownAnswer(verdict);
    // The client left while a stage decided.
    if (this.#req.answer.closed) return;
    if (admitted.upstream === undefined) return this.answer(unanswered(admitted.route));
    // select → forward → decide, per attempt (a route stage may answer first, with what they send: onForward)
    this.#attempts = new Attempts(this.#req, this, withStageEdits(admitted, this.#stages));
    const waiting = startAttempts(this.#req, this, admitted, this.#attempts);
    if (waiting !== undefined) this.#caught(waiting);
  }

  // ── what the later phases report ────────────────────────────────────────────────

  /** The upstream's head went downstream with this status. */
  responded(status: number): void {
    this.#req.record.status = status;
  }

  /** The failure the request ended with, for the log (answered or not: see answer()). */
  failed(failure: Failure): void {
    this.#req.record.failure = failure;
  }

  /** The client left early: before any answer 499; after its head (the status kept), cut at body_streaming, its upstream's part whole or not. */
  clientLeft(): void {
    const { record, answer } = this.#req;
    // It has its answer: what it did after cut nothing (client_aborted says "before the response was complete").
    if (answer.wholeBeforeReset) return;
    record.clientAborted = true;
    upstreamStatusUnread(record); // its answer never ended: the head's grpc-status was read by nobody
    const stage = record.status === 0 ? undefined : 'body_streaming';
    if (stage === undefined) record.status = FAILURES.client_closed.status;
    record.failure ??= new Failure('client_closed', answer.leftHow, { stage }); // unless an attempt cut short said why
  }

  /** The upstream switched protocols and the tunnel is up: the request's slots go back, the connection lives on. */
  tunnelled(status: number): void {
    this.#req.record.status = status;
    this.#req.record.upgraded = true;
    this.#release?.();
  }

  /** The decide phase's answer for a failure before anything went downstream: the one place a gateway error is written. */
  answer(failure: Failure, headRefused = false): void {
    const { record, answer, runtime, fields, head, exchange } = this.#req;
    this.failed(failure);
    if (record.clientAborted) return;
    // Too late to answer: the log's status stays what the client got (its head's, or none).
    if (answer.headSent || answer.closed) return answer.abort();
    record.status = failure.status;
    const facts = gatewayErrorFacts(failure, {
      proxyName: runtime.name,
      requestId: record.id,
      accept: fields.accept as string | undefined,
      nextHop: () => this.nextHop(),
      editHeaders: this.answerEdit(),
      head: head.method === 'HEAD',
      grpc: record.grpc,
      errors: runtime.config.errors,
      refusedAtAccept: this.#refusedAtAccept,
      headRefused,
      bodyComplete: exchange.bodyComplete,
    });
    // Unsent (not even its head fits an HTTP/2 client's header list size): reset, INTERNAL to
    // gRPC, and the log's status none, as the client got none.
    const sent = writeErrorAnswer(answer, failure, facts);
    if (record.grpc) toldGrpcStatus(record, sent ? grpcStatusOf(failure) : GRPC_CODES.INTERNAL);
    if (!sent) record.status = NO_ANSWER;
  }

  /** The name clients may see for the next hop: the upstream's, or the target's address when exposed. */
  nextHop(): string | undefined {
    const { record, runtime } = this.#req;
    return runtime.config.errors.exposeUpstreamAddress ? (record.target ?? record.upstream) : record.upstream;
  }

  /** The route's stages' edit of every answer (response rules, CORS fields) for this request (undefined: none, or not routed yet). */
  answerEdit(): AnswerEdit | undefined {
    return this.#stages?.answerEdit;
  }

  stageRun(): StageRun | undefined {
    return this.#stages;
  }

  bodyInHand(): Buffer | undefined {
    return this.#stages?.bodyRead;
  }

  /** A route stage's answer in the upstream's place, or a failure's (stage-answer.ts). */
  answerWith(answer: StageAnswer): void {
    sendStageAnswer(this.#req, this, answer);
  }

  /** A redirect, a CORS preflight, `OPTIONS *`, an ACME validation (from the fleet's store, later): no upstream. */
  #ownAnswer(answer: OwnAnswer | Promise<OwnAnswer | Failure>, acme?: string): void {
    this.#req.record.acme = acme;
    if (answer instanceof Promise)
      return void answer.then((a) => (a instanceof Failure ? this.answer(a) : this.#ownAnswer(a, acme)));
    sendOwnAnswer(this.#req, this, answer);
  }

  // ── log ──────────────────────────────────────────────────────────────────────────

  readonly #onClose = (finished: boolean): void => {
    const { record, answer } = this.#req;
    // Cut by the sink itself with nobody relaying to hear it (own-cut.ts), not by the client.
    const ownCut = ownCutOf(record, answer, finished);
    // Closed before the whole response went out, and not because of a failure of ours or
    // the upstream's: the client left (a tunnel's end is no abort).
    if (!finished && !record.upgraded && record.failure === undefined && ownCut === undefined)
      this.clientLeft();
    // An attempt the client's leaving cut short ends without a word back: its failure comes here.
    const gone = this.#attempts?.clientClosed();
    if (gone !== undefined) this.failed(gone);
    if (ownCut !== undefined && record.failure === undefined) this.failed(ownCut);
    if (answerNeverLeft(record, answer, finished)) record.status = NO_ANSWER;
    if (!finished && !record.upgraded && answer.cutByDrain !== undefined) this.#cutByDrain(answer.cutByDrain);
    // What was read of the request, whatever the answer (a refusal's head and body too).
    record.bytesIn = this.#req.exchange.bytesRead + record.tunnelBytesIn;
    // The response's end, when it came before this close (an HTTP/2 request side's grace): total_ms ends there.
    if (answer.wholeAt !== undefined) record.endedAt = answer.wholeAt;
    this.#log(finished);
    this.#release?.();
  };

  /**
   * The gateway's drain deadline closed the connection, not the client: the record says so
   * (the exchange was ended the way a client that leaves ends it, so nothing retries it).
   * With no head sent the client got no status line at all, and the log's status is what the
   * client got: 0, none (the kind's 503 was never written; 499 would blame the client). A gRPC
   * client reads its connection dropped as UNAVAILABLE, whatever the upstream had said.
   */
  #cutByDrain(why: DrainCut): void {
    const { record, answer } = this.#req;
    record.clientAborted = false;
    // How far its attempt got (an upstream holding it: sent), as the log line's stage says: the
    // failure's default, not_sent, had its span tell of a request the upstream never got.
    record.failure = drainCutFailure(why, record.stage);
    if (!answer.headSent) record.status = NO_ANSWER;
    if (record.grpc) toldGrpcStatus(record, GRPC_CODES.UNAVAILABLE);
  }

  #log(finished: boolean): void {
    if (this.#onSnapshot === undefined) return;
    this.#onSnapshot = Count.giveBack(this.#onSnapshot);
    this.#req.runtime.lastLogged = this;
    this.#stages?.onEnd(this.#req.record, finished);
    logPhase(this.#req.runtime, this.#req.record, this.#req.spans);
  }
}
