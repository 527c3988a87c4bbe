import type { GatewayConfig, RouteConfig } from '../../core/config/types.ts';
import type { Release } from '../../core/limits/count.ts';
import type { DownstreamExchange } from '../../core/net/downstream.ts';
import type { TrustList } from '../../core/net/trust.ts';
import { loggableError } from '../../observe/log/loggable-error.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { Access } from '../../proxy/admit/access.ts';
import { accessStage } from '../../proxy/admit/access-stage.ts';
import { corsStage } from '../../proxy/admit/cors-stage.ts';
import { gatewayCookiesStage } from '../../proxy/admit/oidc/gateway-cookies-stage.ts';
import { oidcSessionStage } from '../../proxy/admit/oidc/session-stage.ts';
import type { AnswerCache } from '../../proxy/cache/answer-cache.ts';
import { cacheStage } from '../../proxy/cache/cache-stage.ts';
import type { CacheNews } from '../../proxy/cache/invalidation.ts';
import { readRouteStage } from '../../proxy/cache/read-route-stage.ts';
import { compressionStage } from '../../proxy/forward/compression-stage.ts';
import { headerRulesStage } from '../../proxy/forward/header-rules-stage.ts';
import type { Router } from '../../proxy/route/router.ts';
import type { RouteSplit } from '../../proxy/select/split.ts';
import { splitStage } from '../../proxy/select/split-stage.ts';
import { RouteStages } from '../../proxy/stages/route-stages.ts';
import type { RouteStage, StageListener, StageWatch } from '../../proxy/stages/stage.ts';
import { staticStage } from '../../proxy/static/static-stage.ts';

/** The stages a program gives a route (GatewayOptions.stages), after Candor's own. */
export type GivenStages = (route: RouteConfig) => readonly RouteStage[];

/** Builds a route's stages from what it switches on (its config), in the fixed order they run. */
export type StageBuilder = (route: RouteConfig) => RouteStage | undefined;

/**
 * Each route's stages, built once when a config loads, by route name: only the routes that have
 * any (a plain route is not in the map, and runs no stage code). `given` are stages the program
 * gives (the library's own stages, users' plugins), after Candor's own, in their order; `closing`
 * Candor's that run after those (closingStages).
 */
export function buildRouteStages(
  config: GatewayConfig,
  logger: Logger,
  metrics: GatewayMetrics,
  builders: readonly StageBuilder[] = [],
  given?: GivenStages,
  closing: readonly StageBuilder[] = [],
): ReadonlyMap<string, RouteStages> {
  const watch = stageWatch(logger, metrics);
  const stages = new Map<string, RouteStages>();
  for (const route of config.routes) {
    const built: RouteStage[] = [];
    for (const build of builders) {
      const stage = build(route);
      if (stage !== undefined) built.push(stage);
    }
    if (given !== undefined) built.push(...given(route));
    for (const build of closing) {
      const stage = build(route);
      if (stage !== undefined) built.push(stage);
    }
    if (built.length > 0) stages.set(route.name, new RouteStages(accessFirst(built), watch));
  }
  return stages;
}

/** The access stages first (stage.ts's RouteStage.access: Candor's, then a program's), the others after them, each in its order. */
function accessFirst(stages: RouteStage[]): RouteStage[] {
  const late = stages.findIndex(
    (stage, i) => stage.access === true && i > 0 && stages[i - 1].access !== true,
  );
  if (late === -1) return stages;
  return [
    ...stages.filter((stage) => stage.access === true),
    ...stages.filter((stage) => stage.access !== true),
  ];
}

/** Candor's own stages, in the order a request meets them (each builds nothing for a route without its feature). */
export function candorStages(
  trust: TrustList,
  access: Access,
  splits: ReadonlyMap<string, RouteSplit>,
  sessionCookies: readonly string[],
): readonly StageBuilder[] {
  // One for every route where any route signs in: the session cookie is its host's (Path=/).
  const gatewayCookies = gatewayCookiesStage(sessionCookies);
  return [
    // First: its onRequest comes before the admit policies, which read the identity it names (stage.ts).
    (route) => {
      const rules = access.of(route);
      return rules === undefined ? undefined : accessStage(rules);
    },
    // The side of a split or a canary, chosen past access (its weights change at run time: the runtime's).
    (route) => {
      const split = splits.get(route.name);
      return split === undefined ? undefined : splitStage(split, trust);
    },
    // The gateway's own cookies out of what every route's upstream is sent, and out of its Set-Cookie.
    () => gatewayCookies,
    headerRulesStage,
    (route) => {
      const cors = access.corsOf(route);
      return cors === undefined ? undefined : corsStage(cors);
    },
    // A session renewed on the way: its cookies on whichever answer the request gets.
    (route) => (route.access?.auth?.oidc === undefined ? undefined : oidcSessionStage()),
    compressionStage,
    // Last of Candor's own: its answer gets the header rules' and CORS's edits like any other.
    staticStage,
  ];
}

/** What the route caches' stages are given of the gateway (the runtime a config makes live). */
export interface CacheFacts {
  readonly name: string;
  readonly router: Router;
  readonly paths: GatewayConfig['paths'];
  readonly metrics: GatewayMetrics;
  readonly minimalErrors: boolean;
  readonly splits: ReadonlyMap<string, RouteSplit>;
  readonly announce: ((news: CacheNews) => void) | undefined;
  /** Runs a request the gateway makes itself (a stored answer's refresh), on this config's runtime. */
  background(listener: StageListener, exchange: DownstreamExchange): void;
  /** Holds this config's runtime from retiring (its stores closing) until the release. */
  keepRuntime(): Release;
}

/**
 * Candor's stages after the program's: the route's cache (`caches`: each route's stored answers,
 * kept across reloads by route-caches.ts), so a stored answer goes only to a request every other
 * stage let through, and its Cache-Status follows their edits; then, on a route whose unsafe
 * requests may change what another route's cache keeps, that invalidation (read-route-stage.ts).
 */
export function closingStages(
  caches: ReadonlyMap<string, AnswerCache>,
  facts: CacheFacts,
): readonly StageBuilder[] {
  return [
    (route) => {
      const cache = caches.get(route.name);
      if (cache === undefined) return undefined;
      return cacheStage({
        name: route.name,
        cache,
        compression: route.compression,
        authenticates: route.access?.auth !== undefined,
        paths: facts.paths,
        gateway: facts.name,
        minimalErrors: facts.minimalErrors,
        metrics: facts.metrics,
        split: facts.splits.get(route.name),
        announce: facts.announce,
        background: facts.background,
        keepRuntime: facts.keepRuntime,
      });
    },
    (route) => readRouteStage(route, { ...facts, caches }),
  ];
}

/**
 * A stage's hooks told to the metrics, and its failures to the log with the request's id (the stack
 * there, never to the client): its bug always; a hop it called that failed when the request went on
 * without it (`on_error: continue`), for the request's own line does not tell that one.
 */
export function stageWatch(logger: Logger, metrics: GatewayMetrics): StageWatch {
  return {
    ran(stage, hook, ms, failure, request, wentOn) {
      const result =
        failure === undefined
          ? 'ok'
          : failure.type !== 'proxy_internal_error'
            ? failure.type
            : failure.details.includes(' overran ')
              ? 'overran'
              : 'threw';
      metrics.stageHook(stage, hook, result, ms / 1000);
      if (failure === undefined) return;
      const bug = failure.type === 'proxy_internal_error';
      if (!bug && wentOn !== true) return;
      const told = { req_id: request, stage, hook, error: failure.type, details: failure.details };
      if (bug) logger.error({ ...told, err: loggableError(failure.cause) }, 'stage failed');
      else logger.warn({ ...told, next_hop: failure.nextHop }, 'stage failed');
    },
  };
}
