import type { Failure } from '../../core/failure/failure.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type { StageAnswer } from '../stages/stage.ts';
import type { StageRun } from '../stages/stage-run.ts';

/**
 * What the attempts call on the session that owns them, and nothing
 * else: the request itself they read from the SessionRequest they were given (session-request.ts).
 */
export interface AttemptsOwner {
  /** The upstream's head went downstream with this status. */
  responded(status: number): void;
  /** The upstream switched protocols and the tunnel is up. */
  tunnelled(status: number): void;
  /** The failure the request ended with, for the log (answered or not: see answer()). */
  failed(failure: Failure): void;
  /** The client went away before the exchange was over. */
  clientLeft(): void;
  /**
   * No attempt answered: the gateway's error response for this failure. `headRefused`: the sink
   * refused a head an upstream sent (defence in depth), so the connection closes after the answer.
   */
  answer(failure: Failure, headRefused?: boolean): void;
  /** The name clients may see for the next hop. */
  nextHop(): string | undefined;
  /** The route's response header rules for this request; undefined when it has none. */
  answerEdit(): AnswerEdit | undefined;
  /** This request's run of its route's stages (stage-run.ts); undefined: none. */
  stageRun(): StageRun | undefined;
  /** The request's body already read whole (a route stage asked for it; a call's own): every attempt sends it. Undefined: none was. */
  bodyInHand(): Buffer | undefined;
  /** A route stage answers in the upstream's place or the failure's (stage.ts's StageAnswer): it goes out as every answer does. */
  answerWith(answer: StageAnswer): void;
}

/**
 * A call the gateway makes itself through an upstream (an auth service asked about a request),
 * in place of a client's request: its own deadline for the whole call, every attempt and backoff
 * included, in place of the upstream's `timeouts.total`; and it never waits in the upstream's
 * `hold` (the client's request it is made for is the one waiting).
 */
export interface OwnCall {
  readonly deadlineMs: number;
  /** What the deadline is called in its failure's details. */
  readonly deadlineName: string;
}
