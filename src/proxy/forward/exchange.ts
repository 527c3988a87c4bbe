import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks'; // not the global's lazy accessor: moving-deadline.ts
import { classifyExchangeError, isReset } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import { REASONS } from '../../core/failure/wording.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import type {
  ExchangeController,
  ExchangeHandler,
  UpstreamHead,
} from '../../upstream/connections/exchange-contract.ts';
import { keptFields } from '../stages/gateway-fields.ts';
import type { BodyCopy } from '../stages/stage.ts';
import type { HeadOutcome } from '../stages/stage-run.ts';
import { keepRequiredUpgrade, relayedHead, speaksWebSocket, upgradeOf } from './answer-headers.ts';
import type { AnswerRelay } from './answer-relay.ts';
import { type BackpressuredExchange, ClientBackpressure } from './client-backpressure.ts';
import { ExchangeAttempt } from './exchange-attempt.ts';
import { respondedWith } from './exchange-outcome.ts';
import { InterimAnswers } from './interim-answers.ts';
import { partialRefusal } from './partial-answer.ts';
import { PausedAnswer, spentController } from './paused-answer.ts';
import { filterTrailers, trailersReach } from './trailer-fields.ts';
import { openTunnel } from './tunnel.ts';

/**
 * The forward phase: one attempt against one target, on a connection from the target's
 * pool. Bodies stream both ways with backpressure; every failure is classified once, with
 * the stage it happened at, and handed to the owner (before the head went downstream) or
 * turned into an aborted downstream transfer (after). The request's way out (the pool, the
 * connection, the body sent) is its base's, exchange-attempt.ts; the answer's way back is here.
 */
export class Exchange extends ExchangeAttempt implements ExchangeHandler, BackpressuredExchange {
  /** Where the answer's body goes: the client's response, through the route's stages around it (their wrapSink). */
  // The one check a route without a stage around the body pays (compression has one).
  private readonly sink: AnswerSink = this.options.stages?.wrapsSinks
    ? this.options.stages.wrapSink(this.client.answer, this.client.budget)
    : this.client.answer;
  /** The interim (1xx) answers passed on, once one came (interim-answers.ts). */
  private interim: InterimAnswers | undefined;
  /** The upstream's head when the response can carry its trailers (its Connection may name them: trailer-fields.ts). */
  private trailersHead: readonly string[] | undefined;
  /** The sink refused the upstream's head: the attempt's failure says so (ExchangeOutcome). */
  private headRefused = false;
  /** The body's copy a route stage keeps (bounded, kept only when the body ends whole). */
  private copy: BodyCopy | undefined;
  /** The answer, held while a route stage decides on its head after waiting (paused-answer.ts). */
  private held: PausedAnswer | undefined;
  /** The core's backpressure, once a write to the client was left waiting (client-backpressure.ts): the buffer, the overflow, the drain. */
  private backpressure: ClientBackpressure | undefined;
  /** The answer as the protocol the request speaks reads it (answer-relay.ts: gRPC's); undefined: a plain request's. */
  private relayed: AnswerRelay | undefined;

  /** This hop's Via entry on an answer: the version the upstream answered in, whatever the client's (RFC 9110 §7.6.3). */
  private answerVia(head: UpstreamHead): string {
    const { vias } = this.options;
    return head.version === '1.1' ? vias.via11 : head.version === '2' ? vias.via2 : vias.via10;
  }

  /** The upstream paused until the client takes what is held for it (past the buffer and overflow): the client is waited on. */
  get waitsForReader(): boolean {
    return this.backpressure?.waitsForReader === true;
  }

  get headPaused(): boolean {
    return this.held !== undefined;
  }

  /** The client has not taken all the upstream sent (ClientBackpressure.behind): a cut then samples the client's wait. */
  get clientBehind(): boolean {
    return this.backpressure?.behind === true;
  }

  onResponseStart(controller: ExchangeController, answer: UpstreamHead): void {
    const { record } = this;
    const statusCode = answer.status;
    this.stage = 'head_received';
    const now = performance.now(); // one reading for the first byte, the request's and the attempt's
    record.ttfbMs = now - record.startedAt;
    this.firstByte(now);
    this.trailersHead = trailersReach(this.client.head, answer) ? answer.headers : undefined;
    this.relayed = this.options.relays?.relay(statusCode, answer.headers, record);
    const trailers = this.trailersHead !== undefined;
    const head = relayedHead(answer, record.id, this.answerVia(answer), this.options, this.nextHop, trailers);
    keepRequiredUpgrade(statusCode, answer.headers, head);
    if (!answer.hasBody && this.stagesTook(controller, statusCode, this.relayed?.wholeHead(head))) return;
    if (statusCode === 206 && this.stagesTook(controller, statusCode, partialRefusal(answer))) return;
    // The route's stages meet the upstream's answer (its fields, in place): relayed, asked again, or a stage's bug.
    const stages = this.options.stages;
    if (stages?.readsUpstreamHeads) {
      const verdict = stages.onUpstreamHead({
        status: statusCode,
        headers: head,
        received: answer.headers,
      });
      if (verdict instanceof Promise) return this.pauseFor(verdict, controller, answer, head);
      if (this.stagesTook(controller, statusCode, verdict)) return;
    }
    this.relayHead(controller, answer, head, now);
  }

  /**
   * The upstream's head goes downstream (the route's stages had their say): the body follows.
   * `now`: the reading of its coming, when it is relayed as it came (the attempt settles then).
   */
  private relayHead(
    controller: ExchangeController,
    answer: UpstreamHead,
    head: string[],
    now?: number,
  ): void {
    const { sink } = this;
    const statusCode = answer.status;
    // The head, the body and the end of a small response arrive in one read: held until the
    // end of the turn (turn-end.ts), they leave in one write, with the turn's other responses.
    sink.deferToTurnEnd();
    // What a stage keeps of the answer is the upstream's, less the fields the stages took out.
    const { stages } = this.options;
    const kept = stages?.relays ? keptFields(head, answer.headers) : undefined;
    try {
      const headers = this.options.editHeaders?.(head) ?? head;
      // An answer received over HTTP/2 has no reason phrase: an HTTP/1.1 client gets the standard one.
      sink.sendHead(statusCode, answer.reason || (REASONS[statusCode] ?? ''), headers);
    } catch (err) {
      // The sink refuses a head its client cannot take (an HTTP/2 client's header list size): the
      // gateway's answer, smaller, says so instead.
      if (err instanceof Failure) return controller.abort(err);
      // The sink refuses a field the parser let through (a defence in depth: it should not happen).
      this.headRefused = true;
      controller.abort(
        new Failure('http_protocol_error', `invalid response header: ${(err as Error).message}`, {
          stage: 'head_received',
          cause: err,
        }),
      );
      return;
    }
    this.stage = 'body_streaming';
    this.relayed?.headSent();
    if (stages !== undefined && kept !== undefined) {
      const { reason, version } = answer;
      this.copy = stages.onRelayed({ status: statusCode, reason, fields: kept, version });
    }
    this.owner.settled(respondedWith(statusCode), now);
  }

  /**
   * The route's stages on the upstream's head (their edits made in place): true when the answer is
   * not relayed, because a stage answers in its place (a stored answer for its 5xx, or the one its
   * 304 confirmed: the attempt is over with the upstream's status, and the stage's answer goes out),
   * asked the upstream again (the attempt loop asks at once, without the fields it named: every
   * attempt from now on) or a stage's bug is the request's 500. A request whose body streamed
   * from the client cannot go again: its answer is relayed.
   */
  private stagesTook(controller: ExchangeController, status: number, verdict: HeadOutcome): boolean {
    if (verdict === undefined) return false;
    if ('answer' in verdict) {
      // Finished first: the connection's report of the abort (onResponseError) finds the attempt over.
      this.finish();
      controller.abort(
        new Failure('http_response_incomplete', "a route stage answered in the upstream's place", {
          stage: 'head_received',
        }),
      );
      this.owner.settled({ kind: 'answered', status, answer: verdict.answer });
      return true;
    }
    if (!(verdict instanceof Failure) && this.options.body.kind === 'stream') return false;
    // Finished first: the connection's report of the abort (onResponseError) finds the attempt over.
    this.finish();
    if (verdict instanceof Failure) {
      // The upstream answered: the failure says with what (its received-status), its attempt a response.
      const failure = verdict.afterAnswer(status);
      controller.abort(failure);
      this.owner.settled({ kind: 'failed', failure, headRefused: false });
      return true;
    }
    controller.abort(
      new Failure('http_response_incomplete', 'a route stage asked the upstream again', {
        stage: 'head_received',
      }),
    );
    this.owner.settled({ kind: 'again', status, without: verdict.askAgainWithout });
    return true;
  }

  /**
   * A stage decides on the head after waiting (paused-answer.ts): the answer is held meanwhile, then
   * relayed with what came of its body (or not: asked again, a stage's failure), unless the
   * exchange ended first (the upstream failed, the client left, the deadline passed: told already).
   */
  private pauseFor(
    verdict: Promise<HeadOutcome>,
    controller: ExchangeController,
    answer: UpstreamHead,
    head: string[],
  ): void {
    const held = new PausedAnswer();
    this.held = held;
    controller.pause();
    this.owner.deadline.headCame(); // the upstream's part is done: the wait is the stage's
    verdict
      .then((decided) => this.decidedPaused(decided, held, answer, head))
      .catch((err: unknown) =>
        // A bug of the gateway's past the stages (theirs are failures in `decided`): this exchange's 500, not the process's end.
        this.cancel(
          new Failure('proxy_internal_error', 'internal error while relaying a held answer', {
            stage: this.stage,
            cause: err,
          }),
        ),
      );
  }

  /** The stages decided on a held answer: relayed with what was kept of it, unless it was not (asked again, a failure) or the exchange ended meanwhile. */
  private decidedPaused(
    decided: HeadOutcome,
    held: PausedAnswer,
    answer: UpstreamHead,
    head: string[],
  ): void {
    this.held = undefined;
    if (this.finished) return;
    // The connection's own, or the spent one's if the answer ended meanwhile.
    const now = this.controller as ExchangeController;
    if (this.stagesTook(now, answer.status, decided)) return;
    this.relayHead(now, answer, head);
    if (this.finished) return;
    // Before the kept chunks go: a pause the client's pace asks while they do stands.
    if (!held.ended) now.resume();
    for (const chunk of held.chunks) {
      if (this.finished) return;
      this.onResponseData(now, chunk);
    }
    if (held.ended && !this.finished) this.onResponseEnd(now, held.trailers);
  }

  onResponseData(controller: ExchangeController, chunk: Buffer): void {
    if (this.held !== undefined) {
      this.held.chunks.push(chunk);
      return;
    }
    this.record.bytesOut += chunk.length;
    this.clientSpokeLast = false;
    this.copy?.add(chunk);
    this.relayed?.feed(chunk);
    const backpressure = this.backpressure;
    if (backpressure !== undefined) return backpressure.relay(chunk, controller);
    if (this.sink.write(chunk)) return;
    // The first write left waiting: the client's backpressure from here on (client-backpressure.ts).
    this.backpressure = new ClientBackpressure(
      this,
      this.sink,
      this.client.budget,
      this.options,
      this.record,
    );
    this.backpressure.leftWaiting(controller);
  }

  /** The client took what was held (BackpressuredExchange): the upstream may send again. */
  resumeUpstream(): void {
    // A response that ended in the read that paused it: its HTTP/1.1 connection may carry the
    // next exchange by now, whose own client's pause a resume from here would undo.
    if (this.finished) return;
    this.controller?.resume();
  }

  /** The client cannot take the response whole (BackpressuredExchange): its send deadline, the overflow's failure. */
  cutForClient(failure: Failure): void {
    // Still reading from the upstream: the exchange ends through the connection, which closes.
    if (!this.finished) return this.cancel(failure);
    // The response was whole from the upstream (its connection is back in the pool); only the
    // client's copy waits.
    this.owner.bodyOver(failure);
    this.sink.abort();
  }

  onResponseEnd(controller: ExchangeController, trailers: string[] | undefined): void {
    const held = this.held;
    if (held !== undefined) {
      held.ended = true;
      held.trailers = trailers;
      return this.spend(controller);
    }
    const head = this.trailersHead;
    const kept = trailers !== undefined && head !== undefined ? filterTrailers(trailers, head) : undefined;
    this.relayed?.ended(trailers, kept, this.sink.headPending === true, this.record);
    // Whole to HTTP, amiss to gRPC (a message cut short): failed after the head (its connection goes on).
    const amiss = this.relayed?.endedAmiss(trailers, this.record.elapsed());
    if (amiss !== undefined) return this.failAfterHead(amiss);
    this.copy?.end();
    // The upstream sent everything: its connection goes back to the pool now (finish), and an
    // overflowed rest reaches the client from where it waits.
    const backpressure = this.backpressure;
    if (backpressure === undefined) this.sink.end(kept);
    else this.endAfterOverflow(backpressure, kept);
    this.finish();
    this.owner.bodyOver(undefined);
  }

  /** onResponseEnd's rarer ways, whose closures in its body made every response's end allocate their context. */
  private spend(controller: ExchangeController): void {
    this.controller = spentController(controller, (failure) => this.onResponseError(undefined, failure));
  }

  private endAfterOverflow(backpressure: ClientBackpressure, kept: string[] | undefined): void {
    backpressure.end(() => this.sink.end(kept));
  }

  onUpgrade(head: UpstreamHead, upstream: Socket, rest: Buffer): void {
    const { record, sink, options } = this;
    this.stage = 'body_streaming';
    record.ttfbMs = record.elapsed();
    this.firstByte();
    // Through the one head builder as every head; the switch, and the request's news (editSwitch), are ours.
    const headers = relayedHead(head, record.id, this.answerVia(head), this.options, this.nextHop, false);
    const switchedTo = upgradeOf(head.headers);
    headers.push('connection', 'upgrade', 'upgrade', switchedTo);
    const fields = options.stages?.editSwitch(headers) ?? headers;
    const switched = sink.closed ? undefined : sink.switchProtocols(head.reason, fields);
    if (switched === undefined) {
      upstream.destroy();
      this.finish();
      this.owner.settled({
        kind: 'left',
        failure: new Failure('client_closed', 'client closed the connection before the switch', {
          stage: 'head_received',
        }),
      });
      return;
    }
    this.owner.settled({ kind: 'tunnelled', status: 101 });
    this.releaseTunnel = this.target.tunnels.acquire();
    openTunnel(switched.socket, upstream, {
      fromUpstream: rest,
      fromClient: switched.rest,
      record,
      fromUpstreamBytes: (n) => {
        record.bytesOut += n;
      },
      upstreamReset: () => {
        record.upstreamReset = true;
      },
      timeouts: this.timeouts ?? this.upstream.config.timeouts,
      closed: () => this.finish(),
      websocket: speaksWebSocket(switchedTo),
      beforeDrainCut: switched.beforeDrainCut,
    });
  }

  onResponseError(_controller: ExchangeController | undefined, error: Failure): void {
    if (this.finished) return;
    // A broken request body comes as the connection reported it (its own error, classified
    // where it broke): placed here at the stage the attempt reached, like every other failure.
    let failure = this.localFailure ?? classifyExchangeError(error, this.stage, this.record.elapsed());
    // Never processed (a TLS alert refusing the handshake), but a streamed body was taken from
    // the client for it: the request cannot go again as it was.
    if (failure.unprocessed && this.options.body.kind === 'stream' && this.bodySent > 0)
      failure = failure.spent(this.stage);
    if (isReset(error.cause)) this.record.upstreamReset = true;
    // The client went away (mid-upload, or mid-body after the head): nobody is left to answer.
    if (failure.type === 'client_closed') {
      this.finish();
      if (this.stage === 'body_streaming') return this.owner.bodyOver(failure);
      return this.owner.settled({ kind: 'left', failure });
    }
    if (this.stage === 'body_streaming') return this.failAfterHead(failure);
    this.finish();
    this.owner.settled({ kind: 'failed', failure, headRefused: this.headRefused });
  }

  /**
   * After the head went downstream the status cannot change: abort the transfer so the client
   * sees it cut, unless the protocol the request speaks ends it with its own word (a gRPC status).
   */
  private failAfterHead(cut: Failure): void {
    this.finish();
    const { relayed, sink } = this;
    // The upstream's silence may be the client's turn to speak (the upstream had answered its last message).
    const failure =
      relayed === undefined ? cut : relayed.stalled(cut, !this.clientSpokeLast && !this.client.bodyComplete);
    this.owner.bodyOver(failure);
    const asSent = this.backpressure?.overflowing !== true && sink.recoded !== true;
    // This gateway and the next hop (none: errors.detail minimal) name a relayed call's cut (gRPC's).
    const { proxyName } = this.options;
    if (relayed?.endCut(failure, this.record, sink, asSent, { proxyName, nextHop: this.nextHop })) return;
    // What was already written (the head, at least) leaves before the cut (the sink's abort).
    sink.abort();
  }

  onInformational(head: UpstreamHead): void {
    // 100 answers an Expect that Candor handled itself; 1xx are not for HTTP/1.0 clients.
    if (this.client.head.versionMinor === 0 || this.sink.headSent || head.status === 100) return;
    this.interim ??= new InterimAnswers(this.sink, this.record, this.options.stages);
    this.interim.relay(head, this.answerVia(head));
  }
}
