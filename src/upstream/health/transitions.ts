import type { Upstream } from '../targets/upstream.ts';
import type { HealthMetrics } from './active-checks.ts';

/** A target went out of rotation or came back: the deploy timeline's health event. */
export type OnTransition = (transition: {
  upstream: string;
  target: string;
  state: 'healthy' | 'unhealthy';
  /** The failure type of the probe that took it out. */
  failure?: string;
}) => void;

/**
 * `counts` as the active checks see them, with each transition also told to `onTransition`
 * (the checks call healthTransition exactly once per transition, so the timeline records it
 * once). The failure is read from the target's last probe, which the checks set first.
 */
export function tellingTransitions(
  counts: HealthMetrics,
  upstreams: () => ReadonlyMap<string, Upstream>,
  onTransition: OnTransition,
): HealthMetrics {
  return {
    healthChecked: (...args) => counts.healthChecked(...args),
    returned: (...args) => counts.returned(...args),
    healthTransition(upstream, target, state) {
      counts.healthTransition(upstream, target, state);
      const failure = upstreams()
        .get(upstream)
        ?.targets.find((t) => t.config.origin === target)?.lastProbe?.failure?.type;
      onTransition({
        upstream,
        target,
        state,
        ...(state === 'healthy' || failure === undefined ? {} : { failure }),
      });
    },
  };
}
