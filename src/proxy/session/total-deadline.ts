import { performance } from 'node:perf_hooks'; // not the global's lazy accessor: moving-deadline.ts
import { Failure } from '../../core/failure/failure.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import { type DeadlineLine, deadlineLine, type LinedDeadline } from '../../core/limits/deadline-line.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { HeadSoFar } from '../../upstream/connections/exchange-contract.ts';
import { noHeadDetails } from '../../upstream/connections/exchange-timers.ts';
import { formatGrpcTimeout, parseGrpcTimeouts } from '../accept/h2/grpc-timeout.ts';
import { leavesTimeForRetry } from '../decide/retry-policy.ts';
import type { DeadlineLeft, QueuedBeforeSent } from '../forward/exchange-options.ts';
import { withGrpcTimeout } from '../forward/request-headers.ts';
import type { OwnCall } from './attempts-owner.ts';

/** How far the attempt under way got, as the exchange says (exchange.ts). */
interface AttemptReach {
  readonly reached: Stage;
  /** No connection took the request yet: one being opened for it, or a full pool's busy one. */
  readonly waitingFor: 'connect' | 'busy' | undefined;
  readonly requestWaiting: string | undefined;
  /** What of the response head came (interim answers, part of a head), said after its missing. */
  readonly headSoFar: HeadSoFar | undefined;
  /** Mid-body, the upstream is paused for a client that has not taken what is held for it. */
  readonly waitsForReader: boolean;
  /** A route stage holds the response head that came, paused while it decides (Exchange.pauseFor). */
  readonly headPaused?: boolean;
  /** It waited in a full pool's queue before a connection took it (ExchangeAttempt.queuedBeforeSent). */
  readonly queuedBeforeSent?: QueuedBeforeSent | undefined;
}

/**
 * One request's total deadline: the upstream's `timeouts.total`, or a gRPC client's own
 * `grpc-timeout` when what is left of it is shorter (past it the client has given up anyway).
 * It spans every attempt and backoff, from the first attempt (after a body read for replay: a
 * client slow to upload is the client's 408, not an upstream's 504) to the response head: a body
 * that keeps moving is bounded by `timeouts.read` between reads, not cut mid-way (a long download,
 * a long poll). It runs on to the end of the body when the config asks (`total_includes_body`),
 * when the client chose it or was told it upstream (a gRPC call's deadline is the whole call's, and
 * the upstream holds it to that), and for a call the gateway makes itself. The client's own deadline runs from when its request arrived, as the client counts it:
 * what the gateway spent before the first attempt (an auth hop, a shared rate limit) is spent of
 * it too. It ends the request as `client_deadline` (`client_deadline_connecting` while no
 * connection had taken the request): it says nothing of the target.
 *
 * A deadline the config sets waits in the line of those of its length (deadline-line.ts): no
 * timer made and cleared per request; one a client chose (rare, of any length) has its own.
 *
 * A gRPC client's deadline goes on to the upstream as what is left of this one when each
 * attempt's request goes out (DeadlineLeft), so that the upstream gives up when the client does.
 */
export class TotalDeadline implements LinedDeadline, DeadlineLeft {
  readonly #limitMs: number;
  /** What set it, named in its failure's details (made only then). */
  get #name(): string {
    const by = this.#byClient ? "client's grpc-timeout" : (this.#ownName ?? 'total timeout');
    return `${by} of ${this.#limitMs} ms`;
  }
  /** A call the gateway makes itself names its own deadline (the auth hop's timeout). */
  readonly #ownName: string | undefined;
  /** The client chose it (grpc-timeout): its failure is the client's own, never the target's. */
  readonly #byClient: boolean;
  /** The client sent a grpc-timeout the gateway read: the upstream is told what is left of it (see upstream). */
  readonly #clientSent: boolean;
  /** The client chose it (grpc-timeout): what it ends is the client's own failure, never the target's. */
  get byClient(): boolean {
    return this.#byClient;
  }
  /** It bounds the wait for the response head only: stopped when the head comes (headCame()). */
  readonly #endsAtHead: boolean;
  /** Told when it passes. */
  readonly #owner: { totalDeadlinePassed(): void };
  /** The line it waits in (undefined: a client's deadline, on a timer of its own). */
  readonly #line: DeadlineLine | undefined;
  /** When the request arrived (performance.now()): a client's deadline runs from then. */
  readonly #receivedAt: number;
  #timer: NodeJS.Timeout | undefined;
  // Its place in the line (LinedDeadline): when it passes, and its neighbours.
  dueAt = 0;
  prevInLine: LinedDeadline | undefined = undefined;
  nextInLine: LinedDeadline | undefined = undefined;
  inLine = false;
  /**
   * Where the deadline stands: not started (no attempt yet), running, passing (its time came, its
   * owner not told yet: see passed()), passed (its time came:
   * no time is left for a retry, whatever stage the attempt under way had reached) or stopped
   * (the request is over, or needs no deadline any more). Changed by start(), passed() and
   * stop() only; read by remaining(), which the retry rule reads.
   */
  #state: 'idle' | 'running' | 'passing' | 'passed' | 'stopped' = 'idle';

  /**
   * `timeouts`: the upstream's `total` and whether it covers the body too.
   * `request`: whether it is a gRPC call, and when it arrived (the record's `startedAt`).
   * `own`: a call the gateway makes itself, whose own deadline stands in for `total`.
   */
  constructor(
    timeouts: { readonly total: number; readonly totalIncludesBody: boolean },
    request: { readonly grpc: boolean; readonly startedAt: number },
    fields: FieldMap,
    owner: { totalDeadlinePassed(): void },
    own?: OwnCall,
  ) {
    // gRPC's own deadline counts only for gRPC (over HTTP/2): anyone else's header is just a header.
    const grpc = request.grpc ? parseGrpcTimeouts(fields['grpc-timeout'] as string | undefined) : undefined;
    const limit = own?.deadlineMs ?? timeouts.total;
    this.#receivedAt = request.startedAt;
    // The client's is the shorter when what is left of it now (admitted, not yet attempted) is.
    const byClient = grpc !== undefined && grpc - (performance.now() - request.startedAt) < limit;
    this.#limitMs = byClient ? grpc : limit;
    this.#byClient = byClient;
    this.#clientSent = grpc !== undefined;
    this.#ownName = own?.deadlineName;
    this.#endsAtHead = !timeouts.totalIncludesBody && grpc === undefined && own === undefined;
    this.#owner = owner;
    this.#line = byClient ? undefined : deadlineLine(limit);
  }

  /**
   * Starts the clock, once (later calls do nothing, after stop() too): the owner hears when it
   * passes. False when no time is left: a client's deadline spent before the first attempt
   * (nothing is sent: the owner ends the request as the deadline's passing would).
   */
  start(now = performance.now()): boolean {
    if (this.#state !== 'idle') return this.#state !== 'passed' && this.#state !== 'passing';
    this.#state = 'running';
    if (this.#line !== undefined) {
      this.#line.start(this, now);
      return true;
    }
    this.dueAt = this.#receivedAt + this.#limitMs;
    const left = this.dueAt - now;
    if (left <= 0) {
      this.#state = 'passed';
      return false;
    }
    // The deadline as the timer's argument: an arrow here made every start() allocate its context.
    this.#timer = setTimeout(passedNow, left, this);
    return true;
  }

  /** The response head came (and goes downstream): a deadline for the wait for it is over. */
  headCame(): void {
    if (this.#endsAtHead) this.stop();
  }

  /**
   * Its time came (the line's timer, or its own). Timers run before I/O in each turn of the event
   * loop: after a stall of the gateway's own (a plugin that computes, a long collection, a CPU
   * saturated by load) the response head the upstream sent in time waits unread in the socket
   * while this fires, and a 504 would name a healthy target, judged for the gateway's lag (the
   * ejection, the circuit). So the owner is told after the poll (setImmediate), as the head clock
   * is (exchange-timers.ts): a head read meanwhile stops the deadline, and nothing is cut. No
   * time is left for a retry from now on (remaining() is 0).
   */
  passed(): void {
    this.#state = 'passing';
    setImmediate(passedAfterPoll, this);
  }

  /** After the poll: still due (neither the head came nor the request ended meanwhile), the owner hears it. */
  confirmPassed(): void {
    if (this.#state !== 'passing') return;
    this.#state = 'passed';
    this.#owner.totalDeadlinePassed();
  }

  /** The time left, in ms; 0 once it passed (the timer may fire a hair before performance.now() says it is there). */
  remaining(): number {
    return this.#state === 'passed' || this.#state === 'passing' ? 0 : this.dueAt - performance.now();
  }

  /** Whether a retry starting now has its floor of time before the deadline (retry-policy.ts). */
  leavesTimeForRetry(): boolean {
    return leavesTimeForRetry(this.remaining());
  }

  /**
   * What each attempt tells the upstream of the deadline (undefined: nothing, the client's
   * fields go as they came). Only a gRPC client's own deadline is passed on, as Envoy does: a
   * call without one is bounded by the gateway, which cancels the upstream's stream when its
   * total deadline passes; a deadline the client never set would change the call the upstream
   * sees (and the one it makes of its own).
   */
  get upstream(): DeadlineLeft | undefined {
    return this.#clientSent ? this : undefined;
  }

  /** The fields with what is left now as grpc-timeout says it (DeadlineLeft): the client's or the total timeout, the shorter. */
  toldIn(headers: readonly string[]): string[] {
    return withGrpcTimeout(headers, formatGrpcTimeout(this.remaining()));
  }

  stop(): void {
    if (this.#line !== undefined) this.#line.stop(this);
    else clearTimeout(this.#timer);
    if (this.#state !== 'passed') this.#state = 'stopped'; // a passing one too: its owner is not told
  }

  /**
   * The failure it ends the request with when it passed while a retry waited out its backoff
   * (`tries`: the attempts made): the retry never ran, so the last failure seen is the truth (a
   * refusal's 502, not a 504 for a slowness nobody saw), saying that no time was left for another
   * try. A deadline the client chose stays the client's, saying where it passed.
   */
  leftNoTimeAfter(last: Failure, tries: number): Failure {
    if (this.#byClient) return this.passedIdle('while a retry waited out its backoff', last, tries);
    return new Failure(last.type, `${last.details}; the ${this.#name} left no time for another try`, {
      stage: last.stage,
      status: last.status,
      params: last.params,
      retryAfter: last.retryAfter,
      cause: last.cause,
      ...(last.variant === undefined ? {} : { variant: last.variant }),
    });
  }

  /**
   * The failure it ends the request with when it passed before any attempt: only a client's
   * deadline can (start() is false), spent by what came before (an auth hop), or zero, which
   * gRPC reads as a deadline already past when the call arrives. Nothing was sent.
   */
  spentBeforeFirstAttempt(): Failure {
    if (!this.#byClient) return this.failureAt(undefined);
    if (this.#limitMs === 0)
      return new Failure(
        'client_deadline_connecting',
        `the ${this.#name} had passed when the request arrived: nothing was sent`,
        { stage: 'not_sent' },
      );
    return this.passedIdle('before the first attempt: nothing was sent');
  }

  /**
   * A client's deadline that passed with no attempt under way (`doing`: what the request was
   * doing then; `last`: the last attempt's failure, of `tries` made): the client's own. Nothing
   * was being sent, so when the last attempt had sent nothing either (or none was made) it is
   * client_deadline_connecting, whose Proxy-Status tells the client nothing was delivered.
   */
  passedIdle(doing: string, last?: Failure, tries = 0): Failure {
    const plural = tries === 1 ? '' : 's';
    const after =
      last === undefined ? '' : `, after ${tries} attempt${plural}; the last: ${last.type} (${last.details})`;
    const stage = last?.stage ?? 'not_sent';
    return new Failure(
      stage === 'not_sent' ? 'client_deadline_connecting' : 'client_deadline',
      `the ${this.#name} passed ${doing}${after}`,
      { stage },
    );
  }

  /**
   * The failure it ends the request with, for the attempt under way when it passed, by how far it
   * got (none: `not_sent`); it changes nothing (no retry follows: remaining() is 0). Still queued
   * behind a full pool (`waitingFor` busy): the pool's limit; no connection yet: a connect timeout.
   * `clientUploading` (the streamed body waits for the client) or mid-body with the upstream
   * waiting for the client to read (`waitsForReader`): the client's, judging no target. Mid-body
   * otherwise: the read timeout's type. Else no response head in time, with what of the request
   * the upstream had not taken (`requestWaiting`); judged against no target (ownWaitSpent) when
   * the gateway's own wait spent it: a full pool's queue before it was sent, cut before its
   * upstream's head clock ran out (`queuedBeforeSent`), or a stage holding the head (`headPaused`).
   */
  failureAt(attempt: AttemptReach | undefined, clientUploading = false): Failure {
    const reached = attempt?.reached ?? 'not_sent';
    const waiting = attempt?.requestWaiting;
    // Queued behind a full pool: the gateway's own bound, answered as pool.queue_timeout answers it
    // (neither the target, which has not seen the request, nor the client kept it); a client's own
    // deadline there is its own, which sent nothing either.
    if (attempt?.waitingFor === 'busy') {
      const details = `no connection to the upstream freed up within the ${this.#name}: every one its pool may open was in use`;
      return this.#byClient
        ? new Failure('client_deadline_connecting', details, { stage: reached })
        : new Failure('connection_limit_reached', details, { retryAfter: 1, stage: reached });
    }
    // Still waiting for the client's own body: the client was too slow, not the upstream.
    if (clientUploading && !this.#byClient)
      return new Failure(
        'http_request_error',
        `the request body was still arriving from the client when the ${this.#name} passed`,
        { status: 408, stage: reached },
      );
    // The mirror of the above, mid-body: the upstream waits for the client to read (its answer is
    // held for it up to the buffer and the spool's bounds), so the client was too slow: the
    // upstream's stall (connection_read_timeout) would blame, and judge, a target that was not.
    if (reached === 'body_streaming' && attempt?.waitsForReader === true && !this.#byClient)
      return new Failure(
        'http_request_error',
        `the client had not taken the response when the ${this.#name} passed (the upstream waited for it)`,
        { stage: reached },
      );
    // No connection had the request: it was never written, so no head was waited for. What ran
    // out is the connect, as timeouts.connect's own failure says (a full pool's queue wait is above);
    // a client's own deadline, its own (client_deadline_connecting: nothing was sent).
    if (attempt?.waitingFor === 'connect')
      return new Failure(
        this.#byClient ? 'client_deadline_connecting' : 'connection_timeout',
        `no connection made within the ${this.#name}`,
        { stage: reached },
      );
    // A gRPC call's deadline was told upstream in its grpc-timeout (the total here, when shorter
    // than the client's): an upstream still answering when it passed kept to the call as asked, and
    // a long stream (a watch) cut at it would otherwise eject a healthy target at every call. So
    // with the config's total_includes_body (no name of its own: not a call the gateway makes):
    // the cap is the gateway's, an upstream still sending was not failing (a stalled one is
    // `read`'s), and every event stream or long download cut at it ejected its target, as
    // Envoy's route timeout does not once the head came.
    if (reached === 'body_streaming')
      return new Failure(
        this.#byClient ? 'client_deadline' : 'connection_read_timeout',
        `${this.#name} reached while streaming the body`,
        { stage: reached, callsDeadline: this.#clientSent || this.#ownName === undefined },
      );
    // The head came and a route stage holds it (a plugin's onResponse that waits; only a deadline past
    // the head passes here): "no response head" beside the line's ttfb, the target judged, lied.
    if (attempt?.headPaused === true)
      return new Failure(
        this.#byClient ? 'client_deadline' : 'http_response_timeout',
        `the ${this.#name} passed while a route stage held the upstream's response head (it came; nothing of it was sent)`,
        { stage: reached, ownWaitSpent: true },
      );
    const noHead = noHeadDetails(`within the ${this.#name}`, attempt?.headSoFar);
    const details = waiting === undefined ? noHead : `${noHead}; ${waiting}`;
    // It waited in the gateway's own pool queue (every connection busy: overload) and was cut
    // before its upstream's head clock ran out: still no head within the total timeout, the
    // client's 504, but the time was the queue's, not the upstream's. Judged against the target,
    // a healthy one was ejected for the gateway's own queue, and every request after was a 503.
    // Not queued, the upstream had the whole deadline: judged as ever (total == response ejects
    // a hanging upstream).
    const queued = attempt?.queuedBeforeSent;
    if (queued !== undefined && !this.#byClient) {
      const had = performance.now() - queued.sentAt;
      if (had < queued.headMs)
        return new Failure(
          'http_response_timeout',
          `${details}; it waited ${Math.round(queued.queuedMs)} ms in the gateway's pool queue, the upstream had ${Math.round(had)} ms of it`,
          { stage: reached, ownWaitSpent: true },
        );
    }
    return new Failure(this.#byClient ? 'client_deadline' : 'http_response_timeout', details, {
      stage: reached,
    });
  }
}

/** A passing deadline's look after the poll (a function, not a closure made per deadline). */
function passedAfterPoll(deadline: TotalDeadline): void {
  deadline.confirmPassed();
}

/** A client's deadline's own timer fired. */
function passedNow(deadline: TotalDeadline): void {
  deadline.passed();
}
