/**
 * What the canary controller tells the world besides its log lines: each step, verdict and
 * action, as one small record a deploy timeline can keep (issue 36's events ring takes these
 * as they are: `kind` says whose, `summary` is the line a person reads, `fields` the figures).
 */
export interface CanaryEvent {
  readonly kind: 'canary';
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly route: string;
  /** step | verdict | action */
  readonly what: 'step' | 'verdict' | 'action';
  readonly summary: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export type CanaryEventSink = (event: CanaryEvent) => void;
