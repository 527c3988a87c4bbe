/** What a reload did, for its log line and the admin API's answer (the workers send it to their primary). */
import type { GatewayConfig } from '../../core/config/types.ts';
import { type ListenerPlan, type RouteChanges, routeChanges } from './reload-plan.ts';

/** What a reload did, for its log line and the admin API's answer. */
export interface ReloadOutcome {
  readonly config_hash: string;
  readonly listeners: { readonly kept: number; readonly added: string[]; readonly removed: string[] };
  readonly upstreams: { readonly kept: string[]; readonly added: string[]; readonly removed: string[] };
  readonly routes: RouteChanges;
  /** Runtime changes dropped because their target or route left the config. */
  readonly dropped_changes: string[];
}

/** The outcome of a reload from `before` to `next` by `plan`, the runtime changes it `dropped` named. */
export function reloadOutcome(
  hash: string,
  plan: ListenerPlan,
  before: GatewayConfig,
  next: GatewayConfig,
  dropped: string[],
): ReloadOutcome {
  const names = (config: GatewayConfig) => Object.keys(config.upstreams);
  return {
    config_hash: hash,
    listeners: {
      kept: plan.kept.length,
      added: plan.added.map((l) => l.address),
      removed: plan.removed.map((l) => l.address),
    },
    upstreams: {
      kept: names(next).filter((n) => Object.hasOwn(before.upstreams, n)),
      added: names(next).filter((n) => !Object.hasOwn(before.upstreams, n)),
      removed: names(before).filter((n) => !Object.hasOwn(next.upstreams, n)),
    },
    routes: routeChanges(before, next),
    dropped_changes: dropped,
  };
}
