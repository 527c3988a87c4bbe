import { DEFAULTS } from '../../core/config/defaults.ts';
import type { GatewayConfig, MaintenanceConfig, RouteConfig, SplitSide } from '../../core/config/types.ts';
import type { AdminChange } from '../../observe/events/gateway-event.ts';
import type { CanaryVerdictCount } from '../../observe/metrics/metrics.ts';
import type { AdminTargetState } from '../../upstream/targets/target-state.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';

/**
 * A change made at run time (through the admin API), as it travels from the primary to every
 * worker. Targets are named by URL and matched by origin (scheme://host:port), as a reload
 * matches them; routes by name.
 */
export type RuntimeChange =
  | {
      readonly kind: 'target_state';
      readonly upstream: string;
      readonly target: string;
      readonly state: AdminTargetState;
    }
  | {
      readonly kind: 'weights';
      readonly upstream: string;
      readonly weights: readonly { readonly target: string; readonly weight: number }[];
    }
  | {
      /** A route's split (or its canary's share): the weights of the sides named, the others kept. */
      readonly kind: 'split';
      readonly route: string;
      readonly sides: readonly SplitSide[];
      /** The canary controller's verdict that made (or, a pause, carried) the change, counted by an in-process gateway (a cluster's primary counts its own); absent: an operator's. */
      readonly verdict?: CanaryVerdictCount;
    }
  | {
      readonly kind: 'maintenance';
      readonly route: string;
      readonly enabled: boolean;
      readonly message?: string;
      /** Seconds, for Retry-After. */
      readonly retryAfter?: number;
    };

/** A runtime change as the deploy timeline tells it: what changed, without the maintenance page's text. */
export function timelineChange(change: RuntimeChange): AdminChange {
  if (change.kind === 'maintenance')
    return { kind: 'maintenance', route: change.route, enabled: change.enabled };
  // A split's sides, as the timeline names them (a canary's verdict is an event of its own).
  if (change.kind === 'split') return { kind: 'split', route: change.route, split: change.sides };
  return change;
}

/** Why a change cannot apply to this config: the field of the request that names what is missing. */
export interface ChangeProblem {
  readonly field: string;
  readonly detail: string;
}

interface TargetOverride {
  readonly upstream: string;
  readonly origin: string;
  state?: AdminTargetState;
  weight?: number;
}

/** "http://a" and "http://a:80/" are one target: the same key a reload matches targets by. */
function targetOrigin(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
    return `${parsed.protocol}//${parsed.hostname}:${port}`;
  } catch {
    return undefined;
  }
}

/**
 * The runtime changes in force, one entry per target and per route (the latest change wins).
 * They outlive a reload while the config still names their target or route; `prune` drops
 * the others and says which. The primary keeps one to replay to a worker started later; each
 * worker keeps one that its runtime reads.
 */
export class RuntimeChanges {
  readonly #targets = new Map<string, TargetOverride>();
  readonly #routes = new Map<string, MaintenanceConfig | null>();
  readonly #splits = new Map<string, readonly SplitSide[]>();

  /**
   * Whether the change names things this config has; undefined when it does. `splitNow`: a
   * split's weights in force on the route (RuntimeChanges.split), which a split change naming
   * some sides keeps for the others; the config's without it.
   */
  static check(
    change: RuntimeChange,
    config: GatewayConfig,
    splitNow?: readonly SplitSide[],
  ): ChangeProblem | undefined {
    if (change.kind === 'split') return splitProblem(change.route, change.sides, config, splitNow);
    if (change.kind === 'maintenance') {
      return config.routes.some((r) => r.name === change.route)
        ? undefined
        : { field: 'route', detail: `no route named "${change.route}"` };
    }
    const upstream = config.upstreams[change.upstream];
    if (upstream === undefined || !Object.hasOwn(config.upstreams, change.upstream))
      return { field: 'upstream', detail: `no upstream named "${change.upstream}"` };
    const named = (url: string) => upstream.targets.some((t) => t.origin === targetOrigin(url));
    // A discovered upstream's targets are the last DNS answer's: one not in it now is named so.
    const none = (target: string) =>
      upstream.discovery === undefined
        ? `upstream "${change.upstream}" has no target ${target}`
        : `upstream "${change.upstream}" has no target ${target} in the last DNS answer for ${upstream.discovery.dns} (${upstream.targets.map((t) => t.origin).join(', ') || 'none yet'})`;
    if (change.kind === 'target_state')
      return named(change.target) ? undefined : { field: 'target', detail: none(change.target) };
    // A target named twice (as written, or as `http://h` and `http://h:80`) would get the last
    // weight while the answer echoed both: refused, as a split's upstream named twice is.
    const seen = new Map<string | undefined, number>();
    for (const [index, entry] of change.weights.entries()) {
      if (!named(entry.target)) return { field: `weights[${index}].target`, detail: none(entry.target) };
      const origin = targetOrigin(entry.target);
      const first = seen.get(origin);
      if (first !== undefined)
        return {
          field: `weights[${index}].target`,
          detail: `${entry.target} is the target weights[${first}] names already`,
        };
      seen.set(origin, index);
    }
    return undefined;
  }

  /** Records a change that passed `check`. */
  record(change: RuntimeChange): void {
    if (change.kind === 'split') {
      this.#splits.set(change.route, sidesAfter(this.#splits.get(change.route) ?? [], change.sides));
      return;
    }
    if (change.kind === 'maintenance') {
      this.#routes.set(
        change.route,
        change.enabled
          ? {
              message: change.message ?? DEFAULTS.maintenance.message,
              retryAfter: change.retryAfter ?? DEFAULTS.maintenance.retryAfter,
            }
          : null,
      );
      return;
    }
    const entries =
      change.kind === 'target_state'
        ? [{ target: change.target, set: (o: TargetOverride) => (o.state = change.state) }]
        : change.weights.map((w) => ({
            target: w.target,
            set: (o: TargetOverride) => (o.weight = w.weight),
          }));
    for (const { target, set } of entries) {
      const origin = targetOrigin(target) ?? target;
      const key = `${change.upstream} ${origin}`;
      const override = this.#targets.get(key) ?? { upstream: change.upstream, origin };
      set(override);
      this.#targets.set(key, override);
    }
  }

  /** A route's maintenance as the admin API set it: a mode, null for "off whatever the config says", undefined: not set. */
  maintenance(route: string): MaintenanceConfig | null | undefined {
    return this.#routes.get(route);
  }

  /** A route's split weights as set at run time (by side), if any. */
  split(route: string): readonly SplitSide[] | undefined {
    return this.#splits.get(route);
  }

  /** The admin state and weight set for a target, if any. */
  target(upstream: string, origin: string): { state?: AdminTargetState; weight?: number } | undefined {
    return this.#targets.get(`${upstream} ${origin}`);
  }

  /**
   * Gives every target of these upstreams the admin state and weight in force (without a
   * change: enabled, the config's weight). A disabled target keeps nothing idle: it may be on
   * its way out for maintenance.
   */
  applyTo(upstreams: Iterable<Upstream>): void {
    for (const upstream of upstreams) {
      for (const target of upstream.targets) {
        const set = this.target(upstream.name, target.config.origin);
        target.admin = set?.state ?? 'enabled';
        target.adminWeight = set?.weight;
        if (target.admin === 'disabled') target.pool.closeIdle();
      }
    }
  }

  /** The changes in force now, to put back when what dropped some (a reload's prune) was refused after all. */
  saved(): { restore(): void } {
    const targets = new Map(this.#targets);
    const routes = new Map(this.#routes);
    const splits = new Map(this.#splits);
    return {
      restore: () => {
        refill(this.#targets, targets);
        refill(this.#routes, routes);
        refill(this.#splits, splits);
      },
    };
  }

  /** Drops the changes whose target or route the config no longer names; returns what was dropped, for the log. */
  prune(config: GatewayConfig): string[] {
    const dropped: string[] = [];
    for (const [key, o] of this.#targets) {
      const upstream = Object.hasOwn(config.upstreams, o.upstream) ? config.upstreams[o.upstream] : undefined;
      if (upstream?.targets.some((t) => t.origin === o.origin)) continue;
      this.#targets.delete(key);
      dropped.push(`target ${o.origin} of upstream "${o.upstream}"`);
    }
    for (const [route, sides] of this.#splits) {
      if (splitProblem(route, sides, config) === undefined) continue;
      this.#splits.delete(route);
      dropped.push(`split of route "${route}"`);
    }
    for (const route of this.#routes.keys()) {
      if (config.routes.some((r) => r.name === route)) continue;
      this.#routes.delete(route);
      dropped.push(`maintenance of route "${route}"`);
    }
    return dropped;
  }

  /** The changes in force, as changes: what a worker started later replays. */
  list(): RuntimeChange[] {
    const changes: RuntimeChange[] = [];
    for (const o of this.#targets.values()) {
      if (o.state !== undefined)
        changes.push({ kind: 'target_state', upstream: o.upstream, target: o.origin, state: o.state });
      if (o.weight !== undefined)
        changes.push({
          kind: 'weights',
          upstream: o.upstream,
          weights: [{ target: o.origin, weight: o.weight }],
        });
    }
    for (const [route, sides] of this.#splits) changes.push({ kind: 'split', route, sides });
    for (const [route, mode] of this.#routes)
      changes.push(
        mode === null
          ? { kind: 'maintenance', route, enabled: false }
          : { kind: 'maintenance', route, enabled: true, message: mode.message, retryAfter: mode.retryAfter },
      );
    return changes;
  }
}

/** The upstreams a route's split may weigh: its split's, or its baseline and canary. */
export function splitUpstreams(route: RouteConfig): string[] {
  if (route.split !== undefined) return route.split.map((s) => s.upstream);
  if (route.canary !== undefined && route.upstream !== undefined)
    return [route.canary.upstream, route.upstream];
  return [];
}

/** Whether these weights can apply to the route: it splits, names these upstreams, and sends somewhere. */
function splitProblem(
  route: string,
  sides: readonly SplitSide[],
  config: GatewayConfig,
  now?: readonly SplitSide[],
): ChangeProblem | undefined {
  const found = config.routes.find((r) => r.name === route);
  if (found === undefined) return { field: 'route', detail: `no route named "${route}"` };
  const allowed = splitUpstreams(found);
  if (allowed.length === 0)
    return {
      field: 'route',
      detail: `route "${route}" has no split and no canary: there is nothing to weigh`,
    };
  for (const [index, side] of sides.entries())
    if (!allowed.includes(side.upstream))
      return {
        field: `sides[${index}].upstream`,
        detail: `route "${route}" splits between ${allowed.map((a) => `"${a}"`).join(' and ')}, not "${side.upstream}"`,
      };
  return weightProblem(sides) ?? silentProblem(sidesAfter(now ?? configSides(found), sides));
}

/** A route's split weights as its config starts them: its split's, or a canary's baseline alone. */
function configSides(route: RouteConfig): readonly SplitSide[] {
  if (route.split !== undefined) return route.split;
  if (route.canary === undefined || route.upstream === undefined) return [];
  return [
    { upstream: route.canary.upstream, weight: 0 },
    { upstream: route.upstream, weight: 1 },
  ];
}

/** The weights a split change leaves: the sides it names, the others as they are. */
export function sidesAfter(now: readonly SplitSide[], sides: readonly SplitSide[]): SplitSide[] {
  const kept = now.filter((s) => !sides.some((n) => n.upstream === s.upstream));
  return [...kept, ...sides];
}

/**
 * Weights that would leave no side any: refused, as the config refuses them ("every weight of
 * the split is 0"). Taken, a draw gave every request to the split's first side, a canary's
 * being its canary, while GET /canary, the status page and candor_canary_share_percent said 0 %.
 */
export function silentProblem(after: readonly SplitSide[]): ChangeProblem | undefined {
  if (after.length === 0 || after.some((s) => s.weight > 0)) return undefined;
  return {
    field: 'sides',
    detail: 'every weight of the split would be 0: no request could be sent anywhere',
  };
}

/**
 * A side's weight that no split may have: a weight is a whole number from 0 to 1000, as the
 * config and the admin API take it, whoever sends it (a canary's share is 0 to 100). A negative
 * one (a canary's `100 - share` of a share over 100) would draw every request to the other side.
 */
export function weightProblem(sides: readonly SplitSide[]): ChangeProblem | undefined {
  for (const [index, side] of sides.entries())
    if (!Number.isInteger(side.weight) || side.weight < 0 || side.weight > 1000)
      return {
        field: `sides[${index}].weight`,
        detail: `expected a whole number from 0 to 1000, got ${JSON.stringify(side.weight)}`,
      };
  return undefined;
}

function refill<K, V>(map: Map<K, V>, from: ReadonlyMap<K, V>): void {
  map.clear();
  for (const [key, value] of from) map.set(key, value);
}
