/**
 * Which plugin an error nothing caught comes from (the worker's handler of such errors,
 * cli/worker-faults.ts, asks): one the gateway handed the plugin (plugin-promise.ts), one its
 * own code made, told by the stack's frames naming a file of a plugin module as it was loaded, or
 * one with no frame outside Node's at all that came of work the plugin set going (plugin-scope.ts).
 *
 * The modules a worker imported are the process's (Node's module cache is too), and a replaced
 * config's plugins may still run code after a reload (a timer they set): so the files are kept
 * here for the process's life, each with the names the configs gave it (a few, bounded by them).
 */
import { dirname, sep } from 'node:path';
import { isCandorSource, pathOf, stackFrames } from '../../core/stack-frames.ts';
import { handedTo } from '../../proxy/stages/plugin-promise.ts';
import { pluginInScope } from '../../proxy/stages/plugin-scope.ts';

/** A plugin module's file (its path, without a query) → the names of the plugins made of it. */
const pluginFiles = new Map<string, Set<string>>();
/**
 * A plugin module's folder → the names of the plugins made of modules in it: the files beside
 * a module and under it (its helpers, imported by a relative path) are its code too, as
 * `candor check` reads them (plugin-import.ts), but for the packages under that folder
 * (`node_modules`) and Candor's own files, whichever folder the config is in. A plugin that is
 * a package itself (`module: my-plugin`) has its package's folder: the files of its own package
 * are its code (an entry file that re-exports another, as tsc builds a package, made every error
 * of the plugin's a crash of the worker), the packages it uses are not.
 */
const pluginFolders = new Map<string, Set<string>>();

/** Plugin `name` was made of the module at `url` (a file: URL, as import.meta.resolve gives it). */
export function rememberPluginModule(name: string, url: string): void {
  const file = pathOf(url);
  if (file === undefined) return;
  add(pluginFiles, file, name);
  add(pluginFolders, folderOf(file), name);
}

/** The folder of a plugin's code: its module's, or for a module in a package, the package's. */
function folderOf(file: string): string {
  const inPackages = `${sep}node_modules${sep}`;
  const at = file.lastIndexOf(inPackages);
  if (at === -1) return `${dirname(file)}${sep}`;
  // node_modules/NAME/ or node_modules/@SCOPE/NAME/
  const parts = file.slice(at + inPackages.length).split(sep);
  const name = parts[0].startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1);
  return `${file.slice(0, at + inPackages.length)}${name.join(sep)}${sep}`;
}

function add(map: Map<string, Set<string>>, key: string, name: string): void {
  const names = map.get(key) ?? new Set<string>();
  names.add(name);
  map.set(key, names);
}

/** The plugins whose code `file` is: a module's own file, or a helper in its folder; undefined: none's. */
function pluginsOf(file: string): Set<string> | undefined {
  const own = pluginFiles.get(file);
  if (own !== undefined) return own;
  if (isCandorSource(file)) return undefined;
  // A package under the folder is one the plugin uses: its errors are not told apart from the gateway's.
  for (const [folder, names] of pluginFolders)
    if (file.startsWith(folder) && !file.slice(folder.length - 1).includes(`${sep}node_modules${sep}`))
      return names;
  return undefined;
}

/** An error traced to a plugin: its name (the names, when several plugins share one module), and where it came from. */
export interface PluginFault {
  readonly plugin: string;
  /** The plugin's module file, when its own code made the error. */
  readonly module?: string;
  /** What of the gateway's handed the failure over (`fetch svc`, `body()`), when it did. */
  readonly handed?: string;
}

/**
 * The plugin behind `err`, or undefined: the gateway's own bug, or one no plugin can be told from.
 * `unwound` (an exception thrown, not a rejection): every frame of its stack outside Node's own
 * must be a plugin's, so that no frame of the gateway's was left half-way (see worker-faults.ts);
 * a rejection unwound nothing, and its first such frame is enough. An error with no frame outside
 * Node's (an `fs` callback's error rethrown, a rejection of Node's making) left no frame of the
 * gateway's half-way either: it is the plugin's whose work (a callback, a promise) raised it.
 */
export function pluginBehind(err: unknown, unwound: boolean): PluginFault | undefined {
  const handed = handedTo(err);
  if (handed !== undefined) return { plugin: handed.plugin, handed: handed.what };
  const files = stackFrames(stackOf(err)).map((frame) => frame.file);
  const inScope = pluginInScope();
  if (files.length === 0) return inScope === undefined ? undefined : { plugin: inScope };
  const names = pluginsOf(files[0]);
  if (names === undefined || (unwound && files.some((file) => pluginsOf(file) === undefined)))
    return undefined;
  // The plugin whose work it was, when the module serves several (each a config's name of it).
  return {
    plugin: inScope !== undefined && names.has(inScope) ? inScope : [...names].join(', '),
    module: files[0],
  };
}

function stackOf(err: unknown): string {
  try {
    const stack = (err as { stack?: unknown } | null)?.stack;
    return typeof stack === 'string' ? stack : '';
  } catch {
    // A getter that throws (a Proxy, a plugin's odd object): no stack to read.
    return '';
  }
}
