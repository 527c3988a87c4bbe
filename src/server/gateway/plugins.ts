/**
 * The plugins of one loaded config (`plugins:`, docs/plugins.md): each module imported and its
 * factory called once per config load (not per runtime: a DNS answer rebuilds the runtime on the
 * same plugins), each instance made a stage (plugin-stage.ts) that the routes naming it run, in
 * their order, after Candor's own. A module that does not load, or a factory that throws, refuses
 * the config whole, at `plugins.NAME.module` with its line. A reload makes new instances; the old
 * ones are given `close()` with a bounded time once the old config's requests have ended (their
 * later hooks still call them), by drain.timeout at most (retired-snapshots.ts).
 */
import { dirname } from 'node:path';
import { ConfigError, type ConfigProblem } from '../../core/config/config-error.ts';
import { describeValue } from '../../core/config/describe-value.ts';
import {
  importPluginModule,
  type LoadedPluginModule,
  optionProblems,
  pluginProblem,
  reasonOf,
} from '../../core/config/plugin-modules.ts';
import type { GatewayConfig, PluginConfig, RouteConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { type GatewayMetrics, PLUGIN_SERIES } from '../../observe/metrics/metrics.ts';
import type { Runtime } from '../../proxy/session/runtime.ts';
import type { Plugin, PluginContext, PluginHooks, PluginLogger } from '../../proxy/stages/plugin-api.ts';
import { guardProcessFromPlugins } from '../../proxy/stages/plugin-process-guard.ts';
import { handOver } from '../../proxy/stages/plugin-promise.ts';
import { asGateway, asPlugin } from '../../proxy/stages/plugin-scope.ts';
import { pluginStage } from '../../proxy/stages/plugin-stage.ts';
import type { RouteStage } from '../../proxy/stages/stage.ts';
import { rememberPluginModule } from './plugin-faults.ts';
import { pluginFetch } from './plugin-fetch.ts';

/** A plugin a program gives (GatewayOptions.plugins): its factory, or its hooks; it takes the place of the module of that name. */
export type GivenPlugin = Plugin<never> | PluginHooks;

/** The plugins of one loaded config, made once: what each route runs, and their end. */
export interface PluginSet {
  stagesFor(route: RouteConfig): readonly RouteStage[];
  /** Each instance's close(), `ms` at most each (a reload replaced the config, or refused it, or the gateway stops). */
  close(ms: number): Promise<void>;
}

/** The hooks a factory's object may have (plugin-api.ts's PluginHooks). */
const HOOKS = ['onRequest', 'onResponse', 'onEnd', 'close'] as const satisfies readonly (keyof PluginHooks)[];

/**
 * How long a factory may take, as a module's top-level code may (plugin-import.ts): an
 * asynchronous one that never settles would hold the start, or the reload and every later one
 * (they run one after another), for ever.
 */
export const FACTORY_MS = 5000;

/** A factory that did not settle in time. */
class FactoryLate extends Error {}

/**
 * What the factory made (awaited: a promise, or any thenable), or FactoryLate past `ms`. Hooks it
 * makes too late are no config's: their close() is called, so that what they opened is ended.
 */
async function settledWithin(name: string, made: unknown, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const settled = Promise.resolve(made);
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(
        new FactoryLate(
          `the plugin's factory did not settle within ${ms} ms (a promise that never settles?)`,
        ),
      );
    }, ms);
  });
  settled.then(
    (hooks) => {
      if (late)
        void Promise.resolve()
          .then(() => asPlugin(name, () => (hooks as PluginHooks | null)?.close?.()))
          .catch(() => {});
    },
    () => {},
  );
  try {
    return await Promise.race([settled, overrun]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a plugin's context is made of. */
export interface PluginHost {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /**
   * The runtime live now (the upstreams a plugin's fetch goes through); undefined while the
   * plugins' config is not served yet (their factories run before it is, at start and at a reload).
   */
  readonly runtime: () => Runtime | undefined;
  readonly given?: Readonly<Record<string, GivenPlugin>>;
}

/** Makes every plugin of `config`; throws a ConfigError (nothing made stays open) when one cannot be made. */
export async function loadPlugins(config: GatewayConfig, host: PluginHost): Promise<PluginSet | undefined> {
  const plugins = Object.entries(config.plugins ?? {});
  if (plugins.length === 0) return undefined;
  guardProcessFromPlugins();
  const stages = new Map<string, RouteStage>();
  const problems: ConfigProblem[] = [];
  for (const [name, plugin] of plugins) {
    const made = await makePlugin(config, name, plugin, host);
    if ('problems' in made) problems.push(...made.problems);
    else stages.set(name, made.stage);
  }
  const set: PluginSet = {
    stagesFor: (route) => (route.plugins ?? []).flatMap((name) => stages.get(name) ?? []),
    close: (ms) => closeAll([...stages.values()], ms, host.logger),
  };
  if (problems.length > 0) {
    await set.close(1000);
    throw new ConfigError(problems);
  }
  return set;
}

async function makePlugin(
  config: GatewayConfig,
  name: string,
  plugin: PluginConfig,
  host: PluginHost,
): Promise<{ stage: RouteStage } | { problems: ConfigProblem[] }> {
  const given = host.given?.[name];
  // Every refusal of the module or its factory is said at the plugin's `module` field.
  const atModule = (why: string) => ({ problems: [pluginProblem(config, name, 'module', why)] });
  let loaded: LoadedPluginModule;
  if (given !== undefined)
    // A program's factory takes the config's options as written, as a module's does.
    loaded = { factory: typeof given === 'function' ? given : () => given } as unknown as LoadedPluginModule;
  else
    try {
      // Its top-level code is the plugin's too (its process.exit refused, its stray errors its own).
      loaded = await asPlugin(name, () => importPluginModule(plugin.module, dirname(config.source)));
    } catch (err) {
      return atModule(`cannot load ${plugin.module}: ${reasonOf(err)}`);
    }
  // Its code's errors that nothing caught are told as its own, and the worker goes on (plugin-faults.ts).
  if (loaded.url !== undefined) rememberPluginModule(name, loaded.url);
  const refused = optionProblems(config, name, loaded, plugin.options);
  if (refused.length > 0) return { problems: refused };
  const logger = host.logger.child({ plugin: name });
  let hooks: PluginHooks;
  try {
    const context = contextOf(name, plugin, host, logger);
    const made = asPlugin(name, () => (loaded.factory as Plugin)(plugin.options, context));
    hooks = (await settledWithin(name, made, FACTORY_MS)) as PluginHooks;
  } catch (err) {
    const why = err instanceof FactoryLate ? err.message : `the plugin's factory threw: ${reasonOf(err)}`;
    return atModule(why);
  }
  if (typeof hooks !== 'object' || hooks === null)
    return atModule(`the plugin's factory returned ${describeValue(hooks)}, not an object of hooks`);
  // A hook that is no function would be a 500 on every request it meets: refused here, at load.
  const notCallable = HOOKS.find((hook) => hooks[hook] !== undefined && typeof hooks[hook] !== 'function');
  if (notCallable !== undefined)
    return atModule(
      `the plugin's hook ${notCallable} is ${describeValue(hooks[notCallable])}, not a function`,
    );
  return {
    stage: pluginStage(name, hooks, {
      timeoutMs: plugin.timeout,
      failOpen: plugin.onError === 'continue',
      logFor: (requestId) => loggerOf(logger.child({ req_id: requestId })),
    }),
  };
}

/**
 * A plugin's `context.metrics`, its calls checked, as OpenTelemetry's API takes a wrong one: never
 * thrown at (a count is no reason to fail a request), dropped, and said once a name. A count by a
 * negative number made the counter go down (a reset to rate()), a string was concatenated to it
 * ('2' made 12 of 1), NaN stayed for good, and a label that is no string (an object, a number)
 * made a series per call with the same text: duplicates, which fail the whole scrape.
 */
function pluginMetrics(
  plugin: string,
  metrics: GatewayMetrics,
  logger: Pick<Logger, 'warn'>,
): PluginContext['metrics'] {
  const told = new Set<string>();
  const tell = (metric: string, problem: string, msg = 'a plugin metric call dropped') => {
    if (told.has(metric) || told.size >= 100) return;
    told.add(metric);
    logger.warn({ metric, problem }, `${msg}: ${problem}`);
  };
  const overflowed = (metric: string) =>
    tell(
      '_overflow',
      `past ${PLUGIN_SERIES} names and labels (${metric}): a label must come from a bounded set`,
      'a plugin metric counted under name="_overflow"',
    );
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  return {
    count(metric, label = '', by = 1) {
      const [m, l] = [text(metric), text(label)];
      if (m === undefined || l === undefined)
        return tell(m ?? typeof metric, 'its name and label must be strings');
      if (typeof by !== 'number' || !Number.isFinite(by) || by < 0)
        return tell(
          m,
          `count by ${typeof by === 'number' ? by : typeof by}: a count goes up by a finite number`,
        );
      if (!metrics.pluginCount(plugin, m, l, by)) overflowed(m);
    },
    observe(metric, value, label = '') {
      const [m, l] = [text(metric), text(label)];
      if (m === undefined || l === undefined)
        return tell(m ?? typeof metric, 'its name and label must be strings');
      if (typeof value !== 'number' || !Number.isFinite(value))
        return tell(m, `observe ${typeof value === 'number' ? value : typeof value}: a finite number`);
      if (!metrics.pluginObserve(plugin, m, l, value)) overflowed(m);
    },
  };
}

const NOT_SERVED =
  "fetch: the gateway does not serve this plugin's config yet (its factory runs before): call context.fetch from a hook, or later from a timer the factory sets";

/** `logger`: the plugin's own (its name bound), which its stage's per-request loggers come from too. */
function contextOf(
  name: string,
  plugin: PluginConfig,
  host: PluginHost,
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>,
): PluginContext {
  const { metrics } = host;
  return {
    name,
    log: loggerOf(logger),
    metrics: pluginMetrics(name, metrics, logger),
    // A call the plugin forgets (no await, no catch) cannot end the worker when it fails: its
    // failure is told once, naming the plugin and the hop (plugin-promise.ts).
    fetch: (upstream, path, init) =>
      handOver(
        asGateway(() => {
          const runtime = host.runtime();
          // Called in its factory: no upstream of its config serves yet (at start there is none
          // at all; at a reload the config before's would answer, or not know a new one).
          if (runtime === undefined) return Promise.reject(new Error(NOT_SERVED));
          return pluginFetch(runtime, name, upstream, path, init, plugin.timeout);
        }),
        { plugin: name, what: `fetch ${upstream}` },
        (err) =>
          logger.warn(
            { hop: upstream, req_id: init?.request?.id, err: reasonOf(err) },
            "a plugin's fetch failed and the plugin never took its failure (no await, no catch)",
          ),
      ),
  };
}

/** Candor's logger in the plugin API's words: a message, then its fields. */
function loggerOf(logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>): PluginLogger {
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}

async function closeAll(stages: readonly RouteStage[], ms: number, logger: Logger): Promise<void> {
  await Promise.all(
    stages.map(async (stage) => {
      if (stage.close === undefined) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), ms);
      });
      try {
        const ended = await Promise.race([Promise.resolve().then(() => stage.close?.()), late]);
        if (ended === 'late')
          logger.warn({ stage: stage.name, ms }, 'plugin did not close in time: left behind');
      } catch (err) {
        logger.error({ stage: stage.name, err: reasonOf(err) }, 'plugin close threw');
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
