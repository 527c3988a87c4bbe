import type { AttemptCounter } from '../../core/failure/attempt-counter.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { serverErrorOfGrpc } from '../../core/failure/grpc-answer.ts';
import type { RetrySkip } from '../../core/retry/reasons.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';

/**
 * What the metrics count of one request's attempts beyond their outcome (see reportOutcome):
 * each attempt's duration, up to the end of its response when it answered, and each retry's
 * result, once known; and, on a canary route, each attempt's count and latency sample for the
 * canary's window (the one per-attempt cost of a canary), once the attempt is over: an answer
 * whose body its target cut counts as the cut (a reset), not as the answer its head promised.
 */
export class AttemptMetrics {
  readonly #metrics: GatewayMetrics;
  /** The upstream the request goes to (a held request of a split route may move to another side). */
  #upstream: string;
  readonly #method: string;
  /** The failure type a retry in backoff or under way was made for, until its result is counted. */
  #retryReason: string | undefined;
  /**
   * The attempt whose response is going downstream (its target; undefined: none), its status,
   * start and milliseconds to its head (the canary's latency sample): its duration, and its count
   * on a canary route, when the response ends. Fields, not an object a request.
   */
  #respondingTarget: string | undefined;
  #respondingStatus = 0;
  #respondingSince = 0;
  #respondingHeadMs = 0;
  /** Where the answer's latency counts from: the attempt's start, or a streamed body's last byte out. */
  #respondingFrom = 0;

  /** What counts each attempt on the upstream a stage chose (a canary's window: UpstreamChoice.window); undefined: none. */
  readonly #window: AttemptCounter | undefined;
  /** The gateway's counts of every attempt, whatever its route (Runtime.gatewayCounts). */
  readonly #gateway: AttemptCounter;
  /**
   * The request waits in its upstream's `hold`: the tries it makes while it waits (four a
   * second) are not the canary's to count, or one restart its users waited out would weigh as
   * many failures, and a few held requests would pass for a step's `min_requests`. Its first
   * failure counted, and so does the answer it gets in the end.
   */
  #held = false;

  /** `counts`: the runtime's metrics and its gateway's counts of every attempt. */
  constructor(
    counts: { readonly metrics: GatewayMetrics; readonly gatewayCounts: AttemptCounter },
    upstream: string,
    method: string,
    window?: AttemptCounter,
  ) {
    this.#window = window;
    this.#gateway = counts.gatewayCounts;
    this.#metrics = counts.metrics;
    this.#upstream = upstream;
    this.#method = method;
  }

  /** A retry is made for a failure of this type. */
  retrying(reason: string): void {
    this.#retryReason = reason;
  }

  /**
   * Why a failed attempt is not retried: the log's `retry_skipped`, and its counter (a retry
   * decided and then called off, in retryNow, will not run: counted as skipped, not retried);
   * undefined clears it (a held request tried again: that try is the retry skipped).
   */
  retrySkip(record: RequestRecord, skip: RetrySkip | undefined): void {
    record.retrySkipped = skip;
    if (skip === undefined) return;
    this.#retryReason = undefined;
    this.#metrics.retrySkipped(this.#upstream, skip);
  }

  /** A retry's result is known: the outcome of its attempt, or why it never ran. */
  retryOver(result: string): void {
    if (this.#retryReason === undefined) return;
    this.#metrics.retried(this.#upstream, this.#retryReason, result);
    this.#retryReason = undefined;
  }

  /** The request waits for a target (the upstream's `hold`): its failures from now on are not the canary's to count. */
  holding(): void {
    this.#held = true;
  }

  /**
   * The request goes to another side of its route's split rather than wait (request-hold.ts):
   * what it meets there is that side's to count (a held one's answer only, as on its own side).
   */
  moved(upstream: string): void {
    this.#upstream = upstream;
  }

  /** No target would take the attempt (the gateway's refusal): a retry's result, and the canary's count. */
  refused(failure: Failure): void {
    if (!this.#held) this.#count(failure, undefined, 0);
    this.retryOver(failure.type);
  }

  /**
   * An attempt ended without an answer (or with one the gateway failed on): its duration. On a canary route, a client that left (or
   * whose own deadline passed) while the whole request was out and its answer's head awaited
   * judges no failure of the target's, but the answer came no sooner than that wait: a latency
   * sample of it. Left out, a canary that hangs past its clients' patience showed only the
   * answers that came in time, as fast as the baseline's (clients-give-up.test.ts). `waitedSince`:
   * since when the upstream owed the head (Exchange.headOwedSince; undefined while a body that
   * streams from the client was still going out: the client's pace, not the target's).
   * `endedInQueue`: it never left a full pool's queue: no attempt's duration, as the log lists
   * no try for it.
   */
  attemptFailed(
    target: string,
    failure: Failure,
    startedAt: number,
    now: number,
    waitedSince?: number,
    endedInQueue = false,
  ): void {
    const waited = failure.clientsDoing && failure.stage === 'sent' && waitedSince !== undefined;
    // The gateway's own timeouts.response gave up on the head: a wait as the client's above, timed
    // alike (the window counts it as the target's `slow` and a latency sample of it).
    const timedOut = failure.type === 'http_response_timeout' && waitedSince !== undefined;
    // The target answered and the gateway failed on its answer (a plugin's onResponse threw, or
    // let out its own hop's failure): the failure is the route's plugin's, no side's of a canary,
    // but the answer it came after is the side's, counted as it came (its status, its latency),
    // or a plugin that chokes on a canary's 503s hid them from the judge. Its duration is a
    // response's, by its status; the failure is the request's (candor_responses_total).
    const received = failure.answeredFirst ? failure.receivedStatus : undefined;
    if (!this.#held)
      if (received !== undefined) this.#count(undefined, received, now - startedAt);
      else
        this.#count(
          waited ? undefined : failure,
          undefined,
          now - (waited || timedOut ? waitedSince : startedAt),
        );
    if (endedInQueue) return;
    if (received !== undefined) this.#measured(target, received, '', startedAt, now);
    else this.#measured(target, undefined, failure.type, startedAt, now);
  }

  /**
   * An attempt's head went downstream: its duration, and its count on a canary route, when the
   * response is over. `streamedWholeAt`: when a body that streamed from the client had all gone
   * out, if it had before the head came: the canary's latency counts from then, so that a client
   * uploading slowly (more often on one side, with a `hash_key`) does not pass for a slow side.
   */
  responding(target: string, status: number, startedAt: number, now: number, streamedWholeAt?: number): void {
    this.#respondingTarget = target;
    this.#respondingStatus = status;
    this.#respondingSince = startedAt;
    this.#respondingFrom = streamedWholeAt ?? startedAt;
    this.#respondingHeadMs = now - this.#respondingFrom;
  }

  /**
   * The response of the attempt that answered is over: whole (undefined), or cut with this
   * failure; its canary count is made here, at its end, never at its head. `upstreamOwed`: at a
   * cut by the client, every byte the upstream had sent had gone out to it (the client was not
   * behind): what it waited for was the upstream's next bytes. `grpcStatus`: a gRPC call's
   * status as its upstream gave it (the answer whole).
   */
  answerOver(
    cut: Failure | undefined,
    now = performance.now(),
    upstreamOwed = false,
    grpcStatus?: number,
  ): void {
    const target = this.#respondingTarget;
    if (target === undefined) return;
    this.#respondingTarget = undefined;
    // A body its target cut (a reset, a stall past timeouts.read) is that failure on the canary's
    // side; the client leaving, its own deadline, or the gateway's own cut (a spool's disk) says
    // nothing of the target: the answer counts as it came, its latency its head's. But a client
    // that gave up while the upstream owed the body's next bytes (a body that stalled, or crept,
    // past its patience) waited that long for an answer whole no sooner: a latency sample of its
    // wait, never a failure, as one that left before the head (attemptFailed). Counted at the
    // head, a canary stalling half its bodies under timeouts.read passed as fast as its baseline
    // (stalled-body.test.ts). A client behind on its reading left for its own pace: the head's.
    // A body timeouts.read cut waited for the upstream as long: its `slow`, and a sample of that
    // wait (canary-window.ts), or a canary judged on latency stalling half its bodies was promoted.
    const waited = (cut?.clientsDoing === true && upstreamOwed) || cut?.type === 'connection_read_timeout';
    const ms = waited ? now - this.#respondingFrom : this.#respondingHeadMs;
    // A gRPC call failed by its upstream (UNAVAILABLE, INTERNAL…) comes in a 200: counted as the
    // 5xx it stands for, or a canary failing every call passed as healthy and was promoted
    // (grpc-canary.test.ts). The attempt's duration metric keeps the HTTP status it had.
    const status =
      this.#respondingStatus === 200 ? (serverErrorOfGrpc(grpcStatus) ?? 200) : this.#respondingStatus;
    this.#count(cut?.faultsTarget ? cut : undefined, status, ms);
    this.#measured(target, this.#respondingStatus, cut?.type ?? '', this.#respondingSince, now);
  }

  /** An attempt's outcome for the route's canary (when it has one) and for the gateway's counts alike. */
  #count(failure: Failure | undefined, status: number | undefined, ms: number): void {
    this.#window?.record(this.#upstream, failure, status, ms);
    this.#gateway.record(this.#upstream, failure, status, ms);
  }

  #measured(
    target: string,
    status: number | undefined,
    errorType: string,
    startedAt: number,
    now: number,
  ): void {
    this.#metrics.attemptDuration(
      this.#upstream,
      target,
      this.#method,
      status,
      errorType,
      (now - startedAt) / 1000,
    );
  }
}
