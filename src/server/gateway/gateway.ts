import type { GatewayConfig } from '../../core/config/types.ts';
import type { Timeline } from '../../observe/events/timeline.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { Listener } from '../../proxy/accept/listener.ts';
import type { PurgeTally } from '../../proxy/cache/purge-tally.ts';
import type { PurgeScope } from '../../proxy/cache/route-caches.ts';
import type { CanaryStatus } from '../canary/canary-controller.ts';
import type { OperatorWord } from '../canary/operator-actions.ts';
import { Drain } from './drain.ts';
import type { GatewayOptions } from './gateway-options.ts';
import { buildGateway, type GatewayLive, type GatewayParts } from './gateway-parts.ts';
import { type ReloadScope, reloadGateway } from './gateway-reload.ts';
import { announceStarted, applyChange, drainer, followDiscovery, startListeners } from './gateway-steps.ts';
import { listenerHandlers } from './listener-handlers.ts';
import type { ReloadOutcome } from './reload-outcome.ts';
import type { LiveRuntime } from './runtime.ts';
import type { RuntimeChange, RuntimeChanges } from './runtime-changes.ts';
import { type GatewayStatus, gatewayStatus } from './status.ts';
import { followLink } from './worker-news.ts';

export type { GatewayOptions } from './gateway-options.ts';

export { GatewayDraining } from './gateway-reload.ts';

export interface Gateway {
  /** The listeners open now (a reload adds and removes some). */
  readonly listeners: readonly Listener[];
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /**
   * This process's deploy timeline (GET /events merges every worker's with the primary's). In
   * a cluster the primary records the reloads, admin changes, DNS answers and health checks it
   * makes; a gateway run in-process records its own. A canary controller records its steps here.
   */
  readonly timeline: Timeline;
  /** The port GET /metrics is served on (config `metrics.listen`), when this process serves it. */
  metricsPort(): number | undefined;
  /** The live config snapshot (as the gateway holds it: its routes' caches too). */
  runtime(): LiveRuntime;
  /** The hash of the running config (config-hash.ts). */
  configHash(): string;
  /** True from the moment a drain begins: readiness answers 503 so load balancers stop sending. */
  readonly draining: boolean;
  /**
   * SIGTERM's drain (drain.ts): not ready, `drain.delay`, stop accepting, cut what is still
   * open at `drain.timeout`; then the upstream pools close and the log is flushed.
   */
  drain(): Promise<void>;
  /** A second SIGTERM or SIGINT: the drain (started if it was not) cuts every connection now. */
  drainNow(): Promise<void>;
  /** The admin API's changes in force (kept across reloads while their target or route remains). */
  readonly changes: RuntimeChanges;
  /**
   * Swaps in a new snapshot of an already validated config (see createRuntime for what is
   * kept). Throws a ConfigError, changing nothing, when the config changes what a live socket
   * cannot (reload-plan.ts) or a new listener cannot open; a GatewayDraining once a drain began.
   */
  reload(config: GatewayConfig): Promise<ReloadOutcome>;
  /** Applies a runtime change that RuntimeChanges.check accepted for the running config. */
  apply(change: RuntimeChange): void;
  /**
   * The canaries this gateway judges (`routes[].canary`), as the admin API's `GET /canary` shows
   * them: phase, share, step, the last window's figures, the latest actions. A cluster worker
   * judges none (its primary does): there it is empty.
   */
  canaries(): CanaryStatus[];
  /**
   * An operator's action on a route's canary, as the admin API's `POST /canary/ACTION`: `start`
   * (on from the step it paused at, else from the first), `pause` (the share stays), `rollback`
   * (or `abort`, its other name: its share to 0 at once), `promote` (it takes every request). Logged and put on the
   * timeline with `who` (default "program"). Resolves to the canary's state, or to the problem
   * (no canary on that route, an action that does not apply now).
   */
  canary(
    route: string,
    action: OperatorWord,
    who?: string,
  ): Promise<{ problem: string } | { status: CanaryStatus }>;
  status(): GatewayStatus;
  /**
   * Drops stored answers from the routes' caches (all, one route's, or its keys under a prefix);
   * returns how many, and names each in `tally` when given (a cluster worker's, for its primary).
   */
  purge(scope: PurgeScope, tally?: PurgeTally): Promise<number>;
  /** A certificate was ordered by the process that orders (a cluster's primary): serve it from now on. */
  acmeIssued(name: string): void;
  /**
   * A program's own way out: the drain without its delay. Stops accepting, lets in-flight
   * requests finish until `drain.timeout` and cuts what is still open then (tunnels included),
   * closes upstream pools, exports the last spans and flushes the log. Once any of `drain()`,
   * `drainNow()` or `close()` has begun, the others return the same promise.
   */
  close(): Promise<void>;
}

/** Starts a gateway on a validated config: its runtime, then every listener. */
export async function startGateway(given: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const { parts, live, config } = await buildGateway(given, options);
  const { link, logger, metrics } = parts;
  const current = () => live.runtime;
  const discoveries = followDiscovery(parts, live, config);
  // The drain works on the listeners open when it runs: a reload may have added or removed some.
  const drain = new Drain(
    () => [...live.listeners, ...live.closingListeners],
    () => live.runtime.config.drain,
    logger,
  );
  // The listeners hand every request to a session on the runtime live at that moment: a
  // reload swaps the runtime for new requests only; a request keeps the one it began with.
  const handlers = listenerHandlers(current, () => drain.started, metrics, logger);
  if (link) followLink(link, current, () => live.https, metrics, logger);
  await startListeners(parts, live, config, handlers, discoveries);
  announceStarted(parts, live, config);
  return gatewayFacade(parts, live, { drain, handlers, discoveries });
}

/** The Gateway a program holds, over the parts and the live state of a started gateway. */
function gatewayFacade(parts: GatewayParts, live: GatewayLive, scope: ReloadScope): Gateway {
  const { link, logger, metrics, changes } = parts;
  const { drain } = scope;
  const drainGateway = drainer(parts, live, drain, scope.discoveries);
  // Reloads run one at a time: a second waits for the first (its snapshot is the base).
  let reloading: Promise<unknown> = Promise.resolve();
  const gateway: Gateway = {
    listeners: live.listeners,
    logger,
    metrics,
    timeline: parts.timeline,
    metricsPort: () => live.metricsListener?.port(),
    runtime: () => live.runtime,
    configHash: () => live.hash,
    get draining() {
      return drain.started;
    },
    drain: () => drainGateway(true),
    drainNow() {
      drain.now();
      return drainGateway(true);
    },
    changes,
    reload(next) {
      const done = reloading.then(() => reloadGateway(parts, live, scope, next));
      // In a cluster the primary counts each reload once, refused files too (primary-counts.ts):
      // every worker swapping would count one reload once per worker.
      if (link === undefined)
        done.then(
          () => metrics.reloaded('success'),
          () => metrics.reloaded('failure'),
        );
      reloading = done.catch(() => {});
      return done;
    },
    apply: (change) => {
      applyChange(parts, live, change, 'program');
      // A canary's share set by hand pauses it there (its status then tells the truth).
      if (change.kind !== 'split') return;
      const sides = changes.split(change.route);
      // `apply` answers at once: the fleet's answer (canary.md "Limits") is in the log and the status.
      if (sides !== undefined)
        live.canaries
          ?.byHand(change.route, sides, 'program')
          .catch((err: Error) =>
            logger.error(
              { route: change.route, err: err.message },
              'canary: the share set by hand not taken',
            ),
          );
    },
    canaries: () => live.canaries?.status() ?? [],
    async canary(route, action, who = 'program') {
      if (live.canaries === undefined)
        return { problem: 'a cluster worker judges no canary: its primary does (the admin API)' };
      return live.canaries.act(route, action, who);
    },
    purge: (scope, tally) => purgeCaches(live, scope, tally),
    status: () =>
      gatewayStatus(live.runtime, changes, live.hash, drain.started, {
        store: live.store,
        discovered: parts.discovered,
        certificates: live.https?.status(),
        worker: link !== undefined,
      }),
    acmeIssued: (name) => live.https?.issued(name),
    // The drain without its delay: a connection that never closes (a half-open tunnel) is cut
    // at drain.timeout rather than holding the program until its own idle timeout; held
    // requests are answered at once, as in a drain.
    close: () => drainGateway(false),
  };
  return gateway;
}

async function purgeCaches(
  live: GatewayLive,
  { route, key }: PurgeScope,
  tally?: PurgeTally,
): Promise<number> {
  // Every cache's answers in memory go at once (AnswerCache.purge), their files after.
  const purges: Promise<number>[] = [];
  for (const [name, cache] of live.runtime.caches)
    if (route === undefined || route === name) purges.push(cache.purge(key, tally));
  let removed = 0;
  for (const count of await Promise.all(purges)) removed += count;
  return removed;
}
