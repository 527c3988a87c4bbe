/**
 * Candor as a library: `import { … } from 'candor'`. What this module exports is the package's
 * public API, kept by semantic versioning; every other module is internal. The functions are
 * declared here rather than re-exported so that their documentation is the library's, and so
 * that the internal ones can change shape (reload, drain) without changing what a program calls.
 */
import { ConfigError } from './core/config/config-error.ts';
import { loadConfigFile as loadFile, parseConfig as parseText } from './core/config/load.ts';
import type { RawConfig } from './core/config/schema.ts';
import type { GatewayConfig } from './core/config/types.ts';
import type { OperatorWord } from './server/canary/operator-actions.ts';
import { type Gateway, type GatewayOptions, startGateway as start } from './server/gateway/gateway.ts';

export type { ConfigProblem } from './core/config/config-error.ts';
export type * from './core/config/types.ts';
export type {
  FetchedResponse,
  Plugin,
  PluginAnswer,
  PluginBodyOptions,
  PluginContext,
  PluginFetchInit,
  PluginHeadersInit,
  PluginHooks,
  PluginLogger,
  PluginMetrics,
  PluginModule,
  PluginOptionProblem,
  PluginRecord,
  PluginRequest,
  PluginResponse,
} from './proxy/stages/plugin-api.ts';
export type { CanaryStatus } from './server/canary/canary-controller.ts';
export type { CanaryPhase } from './server/canary/canary-fleet.ts';
export type { Gateway, GatewayOptions } from './server/gateway/gateway.ts';
export { GatewayDraining } from './server/gateway/gateway.ts';
export type { GivenPlugin } from './server/gateway/plugins.ts';
export { ConfigError };

/**
 * A config as written in the YAML file (snake_case keys, durations like "250ms", sizes like
 * "8KiB"), for {@link configFromObject}. docs/configuration.md describes each field.
 */
export type ConfigObject = RawConfig;

/** An operator's action on a canary, for `gateway.canary(route, action)`: `abort` is `rollback`'s other name. */
export type CanaryAction = OperatorWord;

/**
 * Starts a gateway on a validated config and resolves once every listener is bound. It runs
 * until `drain()`, `drainNow()` or `close()` (none waits past `drain.timeout`); signals are the
 * program's to handle. A route's `canary` is judged by the gateway itself, as under `candor
 * serve`; `canaries()` reads them and `canary(route, action)` is the operator's click (the
 * library serves no admin API).
 *
 * @example
 * import { loadConfigFile, startGateway } from 'candor';
 *
 * const gateway = await startGateway(await loadConfigFile('candor.yaml'));
 * console.log(`listening on port ${gateway.listeners[0].port()}`);
 * process.once('SIGTERM', () => gateway.drain());
 * // Roll a canary back by hand: { status: { phase: 'rolled_back', share: 0, … } }, or { problem }.
 * const answer = await gateway.canary('api', 'rollback', 'deploy-bot');
 */
export function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  return start(config, options);
}

/**
 * Reads and validates a YAML config file, as `candor check` does. Paths inside it (certificates,
 * CAs) are taken from the file's own directory; `${VAR}` and `${VAR:-default}` from `env`.
 * Throws a {@link ConfigError} listing every problem, each with its line and field.
 *
 * @example
 * import { ConfigError, loadConfigFile } from 'candor';
 *
 * try {
 *   const config = await loadConfigFile('/etc/candor/candor.yaml');
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.message); // one line per problem
 *   else throw error;
 * }
 */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  return loadFile(path, env);
}

/**
 * Validates YAML config text as if it had been read from `source`: a file path (problems name
 * it, and the files the config names are looked up beside it), or a label in angle brackets
 * such as "<inline>" (they are looked up from the working directory).
 *
 * @example
 * import { parseConfig } from 'candor';
 *
 * const config = parseConfig(
 *   'listen: [{ address: "127.0.0.1:8080" }]\n' +
 *     'routes: [{ match: { path: / }, upstream: app }]\n' +
 *     'upstreams: { app: { targets: [{ url: "http://127.0.0.1:3000" }] } }\n',
 *   '<inline>',
 * );
 */
export function parseConfig(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): GatewayConfig {
  return parseText(text, source, env);
}

/**
 * Validates a config built in code, with the same rules and messages as a file (strings are
 * expanded as in a file: `${VAR}` and `${VAR:-default}` from `env`). Paths it names are taken
 * from the working directory. A {@link ConfigError}'s problems name the field, with no line.
 *
 * @example
 * import { configFromObject, startGateway } from 'candor';
 *
 * const gateway = await startGateway(
 *   configFromObject({
 *     listen: [{ address: '127.0.0.1:8080' }],
 *     routes: [{ match: { path: '/' }, upstream: 'app' }],
 *     upstreams: { app: { targets: [{ url: 'http://127.0.0.1:3000' }], timeouts: { response: '5s' } } },
 *   }),
 * );
 */
export function configFromObject(config: ConfigObject, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  // JSON is YAML: the object goes through the one loader, so code and files cannot drift apart.
  try {
    return parseText(JSON.stringify(config, null, 2), '<object>', env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Their lines are those of the JSON text made above, which the caller never saw.
    throw new ConfigError(error.problems.map((problem) => ({ ...problem, line: 0, column: 0 })));
  }
}
