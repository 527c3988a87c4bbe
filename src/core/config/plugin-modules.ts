/**
 * Importing the modules of `plugins:` and checking the options each is given, when a config
 * loads (`candor check`, `serve`, a reload): a module that does not load (in time), has no
 * function as its default export, or refuses its options is a problem of the config, at
 * `plugins.NAME.module` (or `.options`) with its line, as any other field's. How a module is
 * imported (anew when its file changed) is plugin-import.ts's.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isCandorSource, stackFrames } from '../stack-frames.ts';
import { thrownText } from '../thrown-text.ts';
import type { ConfigProblem } from './config-error.ts';
import { describeValue } from './describe-value.ts';
import { fieldPosition } from './field-lines.ts';
import { isModulePath } from './normalize-plugins.ts';
import { importWithin, SYNTAX_PLACE, withoutVersion } from './plugin-import.ts';
import { importedPackageFile } from './plugin-package.ts';
import type { GatewayConfig } from './types.ts';

/** A plugin module as imported: its factory, and its check of the options when it has one. */
export interface LoadedPluginModule {
  readonly factory: (options: unknown, context: never) => unknown;
  readonly validate?: (options: unknown) => unknown;
  /** The module's file as Node loaded it (a file: URL), which its code's stack frames name. */
  readonly url?: string;
}

/**
 * Imports `module` (an absolute path, or a package looked up from `baseDir`): anew when its file
 * changed since this process last imported it (a reload runs the new code), within MODULE_IMPORT_MS.
 */
export async function importPluginModule(module: string, baseDir: string): Promise<LoadedPluginModule> {
  const specifier = specifierOf(module, baseDir);
  const imported = await importWithin(specifier);
  const factory = defaultExportOf(imported);
  if (typeof factory !== 'function')
    throw new Error('its default export is not a function (options, context) => hooks');
  const validate = imported.validate;
  if (validate !== undefined && typeof validate !== 'function')
    throw new Error('its export `validate` is not a function (options) => problems');
  return {
    factory: factory as LoadedPluginModule['factory'],
    ...(validate ? { validate } : {}),
    // Resolved from here as the import above was: a package's file, not its name (without the
    // content hash the import's URL carries: plugin-faults.ts reads frames by their file).
    url: import.meta.resolve(specifier),
  } as LoadedPluginModule;
}

/**
 * A module's default export as its author wrote it. Node hands an import of CommonJS its
 * `module.exports` as the default: the factory itself for `module.exports = factory`, but for the
 * CommonJS that TypeScript (`module: commonjs`) or Babel make of `export default factory`, an
 * object marked `__esModule` whose `default` is the factory (as bundlers and tsc's own interop read it).
 */
function defaultExportOf(imported: Record<string, unknown>): unknown {
  const exported = imported.default as { __esModule?: unknown; default?: unknown } | undefined;
  return typeof exported === 'object' &&
    exported !== null &&
    exported.__esModule === true &&
    'default' in exported
    ? exported.default
    : exported;
}

function specifierOf(module: string, baseDir: string): string {
  if (isModulePath(module)) return pathToFileURL(module).href;
  // A package beside the config (its node_modules), as Node would find it from a file there.
  try {
    return pathToFileURL(createRequire(join(baseDir, 'candor.config')).resolve(module)).href;
  } catch {
    // A package that only an import resolves (its exports have no `require`), read from the same
    // folder; one not there, Node's own lookup, whose error names it.
    return importedPackageFile(module, baseDir) ?? module;
  }
}

/** `plugins.NAME.FIELD` of `config`, at its line, saying `message`. */
export function pluginProblem(
  config: GatewayConfig,
  name: string,
  field: string,
  message: string,
): ConfigProblem {
  const path = `plugins.${name}.${field}`;
  // An included file's plugin is said in that file (includes.ts), as its other problems are.
  const { file = config.source, line, column } = fieldPosition(config, path);
  return { file, line, column, path, message };
}

/** Each plugin's module imported and its options checked: the problems found (none: every plugin loads). */
export async function checkPluginModules(config: GatewayConfig, baseDir: string): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  for (const [name, plugin] of Object.entries(config.plugins ?? {})) {
    let loaded: LoadedPluginModule;
    try {
      loaded = await importRefusingExit(plugin.module, baseDir);
    } catch (err) {
      problems.push(pluginProblem(config, name, 'module', `cannot load ${plugin.module}: ${reasonOf(err)}`));
      continue;
    }
    problems.push(...optionProblems(config, name, loaded, plugin.options));
  }
  return problems;
}

/**
 * A module imported to be checked, the calls that end the process refused while its top-level
 * code runs (`process.exit`, `reallyExit`, `abort`, a `kill` of this process or of the gateway
 * that forked it): a module that ends the process as it loads is a module that cannot load, said
 * at its field. It ended `candor check` with nothing said and exit 0 ("ok" by its code), or
 * aborted it, the loader of a reload without an answer, or drained the gateway (its primary
 * signalled by the reload's check). (The gateway's workers refuse them in any plugin's code:
 * plugin-process-guard.ts.)
 */
async function importRefusingExit(module: string, baseDir: string): Promise<LoadedPluginModule> {
  const ending = process as typeof process & { reallyExit: (code?: number) => never };
  const { exit, reallyExit, abort, kill } = ending;
  const refuse = (call: string): never => {
    throw new Error(`its top-level code called ${call}`);
  };
  ending.exit = (code) => refuse(`process.exit(${code ?? ''})`);
  ending.reallyExit = (code) => refuse(`process.reallyExit(${code ?? ''})`);
  ending.abort = () => refuse('process.abort()');
  ending.kill = (pid, signal) =>
    signal !== 0 && isTheCheckOrItsGateway(Number(pid))
      ? refuse(`process.kill(${pid}, ${signal ?? 'SIGTERM'})`)
      : kill.call(process, pid, signal);
  try {
    return await importPluginModule(module, baseDir);
  } finally {
    Object.assign(ending, { exit, reallyExit, abort, kill });
  }
}

/**
 * Whether kill(2) given `pid` signals this process (its pid, 0 its group, -1 every process it may
 * signal, its pid negated the group it leads) or, when the gateway forked it to check a reload's
 * config (an IPC channel: load-worker.ts), the primary that waits on its answer.
 */
function isTheCheckOrItsGateway(pid: number): boolean {
  if (pid === 0 || pid === -1 || Math.abs(pid) === process.pid) return true;
  return process.channel !== undefined && Math.abs(pid) === process.ppid;
}

/** What the module's `validate` says of the options, each at its option's field. */
export function optionProblems(
  config: GatewayConfig,
  name: string,
  loaded: LoadedPluginModule,
  options: unknown,
): ConfigProblem[] {
  if (loaded.validate === undefined) return [];
  let said: unknown;
  try {
    said = loaded.validate(options);
  } catch (err) {
    return [pluginProblem(config, name, 'options', `the plugin's validate threw: ${reasonOf(err)}`)];
  }
  // Nothing is no problem (PluginModule's type allows it); anything else but a list is the
  // validator's bug, which would otherwise pass every option unchecked.
  if (said === undefined || said === null) return [];
  // A config is checked at once (its load waits for nothing of the plugin's): an async validate's
  // promise is no answer, and what it comes to later (a rejection too) is no one's.
  if (said instanceof Promise) {
    said.catch(() => {});
    return [
      pluginProblem(
        config,
        name,
        'options',
        "the plugin's validate returned a promise: it must return its list of problems at once (not async)",
      ),
    ];
  }
  if (!Array.isArray(said))
    return [
      pluginProblem(
        config,
        name,
        'options',
        `the plugin's validate returned ${describeValue(said)}, not a list of problems (an empty list: none)`,
      ),
    ];
  return said.map((problem: unknown) => {
    if (typeof problem === 'string') return pluginProblem(config, name, 'options', problem);
    const { path, message } = (problem ?? {}) as { path?: unknown; message?: unknown };
    if (typeof message !== 'string')
      return pluginProblem(
        config,
        name,
        'options',
        `the plugin's validate returned ${describeValue(problem)} as a problem, not a text or { path, message }`,
      );
    const at = pluginProblem(config, name, 'options', message);
    return typeof path === 'string' && path !== '' ? { ...at, path: `${at.path}.${path}` } : at;
  });
}

/**
 * An error's message, its first line (a module's syntax error names its file and line there),
 * with the module files named as their author knows them (no version query: plugin-import.ts).
 */
/**
 * Node's "Cannot find module … imported from FILE", FILE being Candor's own importer (its `.js` in
 * the installed package): a path inside the gateway, which tells the plugin's author nothing (their
 * config's field and module are said).
 */
const CANDORS_IMPORTER = / imported from \S+\/core\/config\/plugin-import\.[jt]s$/;

export function reasonOf(err: unknown): string {
  // Read without throwing: a plugin may throw anything (String() of a null-prototype object throws).
  const text = thrownText(err);
  if (!(err instanceof Error)) return text.message;
  const stack = text.stack ?? '';
  // Node puts the file and line of a syntax error first in its stack ("/path/x.ts:3"), and
  // plugin-import.ts puts a JavaScript module's there too.
  const where = SYNTAX_PLACE.exec(stack);
  const message = withoutVersion(text.message.split('\n')[0]).replace(CANDORS_IMPORTER, '');
  // Node strips TypeScript types only outside node_modules: say what to do about it.
  if ((err as NodeJS.ErrnoException).code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING')
    return `${message} (a plugin installed as a package must be JavaScript; keep a TypeScript one beside the config)`;
  if (where !== null && err instanceof SyntaxError) return `${message} (at ${withoutVersion(where[1])})`;
  const thrown = placeThrown(stack);
  return thrown === undefined ? message : `${message} (at ${thrown})`;
}

/**
 * Where a module's (or its factory's) code threw, for the problem to name its file and line as a
 * syntax error's is: the stack's first frame outside Node's own and Candor's source, as
 * `/path/x.mjs:3`; undefined when there is none (Candor's own refusal, a time-out).
 */
function placeThrown(stack: string): string | undefined {
  const frame = stackFrames(stack).find(({ file }) => !isCandorSource(file));
  return frame === undefined ? undefined : `${frame.file}:${frame.line}`;
}
