import type { Failure } from './failure.ts';

/**
 * What counts each attempt's outcome once the attempt is over, and nothing else: the upstream it
 * went to, its failure (undefined: it answered), the status of its answer and the milliseconds to
 * its head. The attempt loop tells it (a stage's chosen upstream hands one: proxy/stages/stage.ts's
 * UpstreamChoice), and a canary counts through it (a route canary's window, its keyed request's,
 * a fleet canary's count of every attempt: upstream/canary/canary-window.ts), each as it judges.
 * Here, below both, so that the two sides name one type.
 */
export interface AttemptCounter {
  record(upstream: string, failure: Failure | undefined, status: number | undefined, ms: number): void;
}

/**
 * The gateway's own counts (a fleet's config canary): every attempt, as AttemptCounter, and every
 * request the gateway itself answered with its own error (`ownError`), which made none it could
 * count: a plugin's throw, a gateway bug. Told once a request, by the session's log phase.
 */
export interface GatewayCounter extends AttemptCounter {
  ownError(): void;
}
