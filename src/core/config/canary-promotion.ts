/**
 * A canary's last step of 100 (`steps: [10, 50, 100]`, as Argo Rollouts users write it, whose
 * `setWeight: 100` ends a rollout) is its promotion, not a step judged at 100 %: there every
 * request goes to the canary and no baseline is left to compare it with. The config keeps the
 * steps as written (GET /canary and the status page show them so); the config checks
 * (canary-checks.ts) and the controller (server/canary/canary-judging.ts) read the steps judged here.
 */
export const PROMOTION_SHARE = 100;

/** How many of `steps` the canary is judged at: all but a last step of 100. */
export function judgedSteps(steps: readonly number[]): number {
  return steps.at(-1) === PROMOTION_SHARE ? steps.length - 1 : steps.length;
}
