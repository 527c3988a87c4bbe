import { ConfigError } from '../../core/config/config-error.ts';
import { configHash } from '../../core/config/config-hash.ts';
import { keepFieldLines, keptFieldLines } from '../../core/config/field-lines.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { renameGateway } from '../../observe/log/gateway-name.ts';
import type { RequestHandlers } from '../../proxy/accept/request-handlers.ts';
import { loadOidc } from '../../proxy/admit/access.ts';
import { type Discoveries, forgetUndiscovered } from '../../upstream/discovery/discoveries.ts';
import { acmeNames, loadAutomaticHttps, sameHttps } from '../acme/automatic-https.ts';
import type { Drain } from './drain.ts';
import {
  type GatewayLive,
  type GatewayParts,
  PLUGIN_CLOSE_MS,
  pluginsOf,
  runtimeOn,
} from './gateway-parts.ts';
import { openAdded, prepareKept, swapListeners } from './reload-listeners.ts';
import { type ReloadOutcome, reloadOutcome } from './reload-outcome.ts';
import { planListeners, reloadChanges, unchangeableProblems } from './reload-plan.ts';
import type { LiveRuntime } from './runtime.ts';

/**
 * A reload asked of a gateway whose drain began: nothing read, nothing changed. Not a problem of
 * the config (it has no line to name): the gateway is on its way out.
 */
export class GatewayDraining extends Error {
  override readonly name = 'GatewayDraining';
  constructor() {
    super('the gateway is draining: no reload (the running config stays)');
  }
}

/** What a reload works on besides the gateway's parts and state. */
export interface ReloadScope {
  readonly drain: Drain;
  readonly handlers: RequestHandlers;
  readonly discoveries: Discoveries | undefined;
}

/**
 * The runtime a reload's new plugins fetch through: none until the swap, then the live one. Made
 * out here, not as a closure in reloadGateway: V8 keeps one scope for all of a function's
 * closures, and reloadGateway's holds the replaced plugins and the new runtime, so each config's
 * plugins held the config before's, which held the one before it: a worker kept every config it
 * had run (10 MB every 200 reloads of a config with a plugin).
 */
function runtimeOnceSwapped(
  live: GatewayLive,
  swapped: { readonly done: boolean },
): () => LiveRuntime | undefined {
  return () => (swapped.done ? live.runtime : undefined);
}

/**
 * Swaps in `file` (see Gateway.reload): everything that can fail first, while nothing has
 * changed (the new runtime last: if it cannot be built, what was made for it is closed); then the
 * new state and runtime in place, and the listeners swapped.
 */
export async function reloadGateway(
  parts: GatewayParts,
  live: GatewayLive,
  scope: ReloadScope,
  file: GatewayConfig,
): Promise<ReloadOutcome> {
  const { options, logger, metrics, changes } = parts;
  const next = parts.mine(file);
  keepFieldLines(next, keptFieldLines(file));
  const before = live.runtime.config;
  // A draining gateway has stopped accepting on the listeners it had: one a reload opened
  // now would accept connections only for the drain to cut them.
  if (scope.drain.started) throw new GatewayDraining();
  const problems = unchangeableProblems(before, next);
  if (problems.length > 0) throw new ConfigError(problems);
  // Loaded before anything changes, so that nothing is left half swapped.
  await parts.loadStore(next);
  await loadOidc(next.routes);
  await loadAutomaticHttps(next);
  // The new config's plugins, made before anything changes: one that cannot be made refuses the reload whole.
  // Their fetch goes through the gateway's runtime once it is the new config's (before the swap,
  // the config before's would answer a factory's call): refused until then.
  const swapped = { done: false };
  const nextPlugins = await pluginsOf(next, options, logger, metrics, runtimeOnceSwapped(live, swapped));
  // A drain begun while the steps above waited (a plugin's factory, an OIDC discovery) gives the
  // reload up: a listener opened now would escape the drain, which took the listeners it found.
  if (scope.drain.started) {
    await nextPlugins?.close(PLUGIN_CLOSE_MS);
    throw new GatewayDraining();
  }
  const plan = planListeners(before, next);
  // New listeners first: the one step that can fail, and nothing has changed yet if it does.
  const opened = await openAdded(plan, next, scope.handlers, parts.ordered).catch(async (err: unknown) => {
    await nextPlugins?.close(PLUGIN_CLOSE_MS);
    throw err;
  });
  const previous = live.runtime;
  // The new runtime is built before anything the gateway holds is replaced: building it can
  // still fail (a TLS file gone since the config was checked), and the old config then serves
  // on whole, what was made for the new one closed.
  const storeChanged = JSON.stringify(next.store) !== JSON.stringify(previous.config.store);
  const store = storeChanged ? parts.storeOf(next) : live.store;
  // Another Redis (or its settings): its connection made before the swap. Calls are not queued
  // while it connects, so the new snapshot's first rate-limited requests would meet `on_error`
  // (refused, or let through unlimited) though both servers answer.
  if (storeChanged) await store?.settled();
  // The last wait before the swap: a drain begun during it (or while the listeners opened) gives
  // the reload up, what was made for it closed, as a refusal does.
  if (scope.drain.started) {
    if (storeChanged) void store?.close();
    await Promise.all([...opened.map((l) => l.close()), nextPlugins?.close(PLUGIN_CLOSE_MS)]);
    throw new GatewayDraining();
  }
  const httpsChanged = !sameHttps(previous.config, next);
  const https = httpsChanged ? parts.httpsOf(next) : live.https;
  const changesBefore = changes.saved();
  const dropped = changes.prune(next);
  const oldPlugins = live.plugins;
  // The new runtime's stages are the new plugins' (parts.givenStages reads them there).
  live.plugins = nextPlugins;
  let runtime: LiveRuntime;
  let kept: (() => void)[];
  try {
    // The kept listeners' certificates read again (a renewed one under the same path).
    kept = prepareKept(live.listeners, plan, next);
    // Built on the DNS answers in force now: one may have come while the listeners opened.
    runtime = runtimeOn(parts, { store, https }, parts.mine(file), previous);
  } catch (err) {
    live.plugins = oldPlugins;
    changesBefore.restore();
    if (storeChanged) void store?.close();
    if (httpsChanged) {
      https?.stop();
      metrics.acmeNames(acmeNames(previous.config));
    }
    await Promise.all([...opened.map((l) => l.close()), nextPlugins?.close(PLUGIN_CLOSE_MS)]);
    throw err;
  }
  // An upstream no longer discovered leaves its answers behind: given discovery back by a later
  // reload, it waits for its own first answer instead of using them.
  forgetUndiscovered(file, parts.discovered);
  // What only the replaced snapshot names (its rate limit store, its session stores, its plugins'
  // instances) is closed once its requests have ended: each may still reach its limit or session
  // check on it, or a hook (onResponse, onEnd) of a plugin whose close() released what it needs.
  const oldStore = storeChanged ? live.store : undefined;
  live.retired.retire(
    previous,
    [
      () => void oldStore?.close(),
      () => runtime.access.closeDropped(),
      () => oldPlugins?.close(PLUGIN_CLOSE_MS),
    ],
    next.drain.timeout,
  );
  live.store = store;
  if (httpsChanged) {
    live.https?.stop();
    https?.start();
  }
  live.https = https;
  if (parts.link === undefined)
    parts.timeline.record({
      kind: 'reload',
      config_hash: configHash(file),
      via: 'program',
      ...reloadChanges(live.whole, file),
    });
  live.whole = file;
  live.runtime = runtime;
  swapped.done = true;
  live.hash = configHash(file);
  scope.discoveries?.update(file);
  metrics.configLoaded(file);
  metrics.canaryRoutes(
    new Set(
      [...live.runtime.splits].filter(([, split]) => split.window !== undefined).map(([route]) => route),
    ),
  );
  // A canary that appears starts, one that is gone stops, one whose settings changed starts
  // again; the fleet it is judged with follows (opened with a store, closed with the last canary).
  await live.canaries?.sync(file);
  // A logger handed in (tests) keeps its own level; the config's is for the one it describes.
  if (options.logger === undefined) logger.level = next.log.level;
  // The name is the config's whoever made the logger: its lines say which gateway wrote them.
  renameGateway(logger, next.name);
  // A drain begun while the canaries synced took the listeners it found: the ones this reload
  // opened would accept outside it, so they close instead of joining.
  if (scope.drain.started) for (const l of opened) void l.close();
  else swapListeners(live.listeners, live.closingListeners, plan, opened, kept, logger, next);
  const outcome = reloadOutcome(live.hash, plan, before, next, dropped);
  for (const what of dropped)
    logger.warn({ change: what }, 'runtime change dropped: its target or route left the config');
  logger.info({ pid: process.pid, ...outcome }, 'config swapped');
  return outcome;
}
