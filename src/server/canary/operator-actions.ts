import type { CanaryAction } from '../../observe/events/gateway-event.ts';

/** What an operator may do to a canary (POST /canary/ACTION): the controller's own actions' names. */
export const OPERATOR_ACTIONS = [
  'start',
  'pause',
  'rollback',
  'promote',
] as const satisfies readonly CanaryAction[];
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/**
 * `abort`, the word operators (and issue 36) use for the button, is the `rollback` action by
 * another name: accepted by `POST /canary/abort` and `gateway.canary(route, 'abort')`, logged,
 * shown and put on the timeline as `rollback`, so the vocabulary stays one.
 */
export type OperatorWord = OperatorAction | 'abort';

/** The action an operator's word names. */
export const operatorAction = (word: OperatorWord): OperatorAction => (word === 'abort' ? 'rollback' : word);
