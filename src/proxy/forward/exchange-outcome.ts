/** What an exchange (exchange.ts) tells the attempt loop that started it (attempts.ts): nothing else. */
import type { Failure } from '../../core/failure/failure.ts';
import type { StageAnswer } from '../stages/stage.ts';

/** How an attempt settled, as its exchange tells the attempt loop that started it (once). */
export type ExchangeOutcome =
  /**
   * It failed before anything went downstream: retried, or answered with an error response.
   * `headRefused`: the sink refused a head the upstream sent (defence in depth), so the answer
   * closes the connection.
   */
  | { readonly kind: 'failed'; readonly failure: Failure; readonly headRefused: boolean }
  /** The upstream's head went downstream with this status: a working server; its body follows (bodyOver). */
  | { readonly kind: 'responded'; readonly status: number }
  /** The upstream switched protocols and the tunnel is up (its 101 went downstream). */
  | { readonly kind: 'tunnelled'; readonly status: number }
  /** The upstream answered with this status, and a route stage answers in its place (nothing was relayed): the attempt is over. */
  | { readonly kind: 'answered'; readonly status: number; readonly answer: StageAnswer }
  /**
   * A route stage asked the upstream again on its answer's head (this status): not relayed; the
   * request goes again at once, without the fields named (compression's whole answer for a part).
   */
  | { readonly kind: 'again'; readonly status: number; readonly without: readonly string[] }
  /**
   * The client left while the attempt ran (a reset mid-upload, a close before the switch): the
   * attempt is over, nothing to answer, the failure is for the log only. (A client that leaves
   * otherwise is the owner's to see first: it ends the attempt with abandon(), and hears nothing.)
   */
  | { readonly kind: 'left'; readonly failure: Failure };

/**
 * The outcome `responded` with this status: one constant a status, made the first time (most
 * requests' one outcome, which nothing keeps past the call).
 */
export function respondedWith(status: number): ExchangeOutcome {
  let outcome = RESPONDED[status];
  if (outcome === undefined) {
    outcome = Object.freeze({ kind: 'responded', status });
    RESPONDED[status] = outcome;
  }
  return outcome;
}

const RESPONDED: (ExchangeOutcome | undefined)[] = [];

/** What an exchange reports back to the attempt loop that started it: how it settled, then how its answer's body ended. */
export interface ExchangeOwner {
  /**
   * The attempt settled: said once, before anything of the body. `at`: when (performance.now()),
   * the exchange's own reading of the moment when it has one (a head relayed as it came).
   */
  settled(outcome: ExchangeOutcome, at?: number): void;
  /**
   * The request's total deadline, which bounds the wait for the upstream's head: told when the head
   * came and a route stage decides on it before the attempt settles (a plugin's `onResponse` that
   * waits). That wait is the stage's, bounded by its own time: passing meanwhile, the deadline
   * answered 504 "no response head" naming the upstream, which had answered, and judged its target.
   */
  readonly deadline: { headCame(): void };
  /**
   * After `responded`, the body is over: whole (undefined), or broken after the head went
   * downstream (already aborted; recorded for the log and health), `client_closed` when the client left.
   */
  bodyOver(failure: Failure | undefined): void;
}
