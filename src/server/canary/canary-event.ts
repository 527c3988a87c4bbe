import { CANARY_ACTIONS, type CanaryAction } from '../../observe/events/gateway-event.ts';
import type { CanaryStep } from '../../observe/events/timeline.ts';

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
  /** The canary's upstream (the new version). */
  readonly upstream: string;
  /** The canary's share after this event, in percent. */
  readonly share: number;
  /** step | verdict | action */
  readonly what: 'step' | 'verdict' | 'action';
  readonly summary: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export type CanaryEventSink = (event: CanaryEvent) => void;

/**
 * The deploy timeline's event for a step or an action (src/observe/events/timeline.ts), named as
 * the controller names it (one vocabulary: CANARY_ACTIONS); none for a verdict, whose outcome
 * the step or the action after it tells (a rollback carries its why).
 */
export function timelineStep(event: CanaryEvent): CanaryStep | undefined {
  const base = { route: event.route, upstream: event.upstream, weight: event.share };
  if (event.what === 'step') return { ...base, action: 'step' };
  if (event.what !== 'action') return undefined;
  const action = event.fields.action;
  if (!isCanaryAction(action)) return undefined;
  const reason = event.fields.reason;
  return typeof reason === 'string' && reason !== '' ? { ...base, action, reason } : { ...base, action };
}

function isCanaryAction(value: unknown): value is CanaryAction {
  return CANARY_ACTIONS.includes(value as CanaryAction);
}
