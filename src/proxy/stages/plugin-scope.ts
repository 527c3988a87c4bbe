/**
 * Whose plugin code runs now, carried by Node through everything that code sets going (its
 * timers, its sockets' events, its promises' jobs: AsyncLocalStorage). An error nothing caught
 * whose stack names none of a plugin's files (an `fs` callback's error rethrown, a rejection made
 * inside Node's code, neither with a frame of the plugin's) is still traced to the plugin whose
 * work it came from (plugin-faults.ts). The gateway's work a plugin asks for (`context.fetch`,
 * `body()`) runs outside the scope, so that an upstream connection a plugin's fetch opened is
 * never taken for the plugin's own when it later serves other requests.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<string>();

/** Runs `work` as plugin `name`'s code (its factory, its close). */
export function asPlugin<R>(name: string, work: () => R): R {
  return scope.run(name, work);
}

/** Calls `hook` on `self` with `args` as plugin `name`'s code (no closure a call: a plugin's hooks run on every request of its routes). */
export function callAsPlugin<A extends unknown[], R>(
  name: string,
  hook: (this: unknown, ...args: A) => R,
  self: unknown,
  ...args: A
): R {
  return scope.run(name, callHook, hook, self, args) as R;
}

/** `hook.apply(self, args)`, for `callAsPlugin`: AsyncLocalStorage.run calls its callback with no `this`. */
function callHook<A extends unknown[], R>(hook: (this: unknown, ...args: A) => R, self: unknown, args: A): R {
  return hook.apply(self, args);
}

/** Runs `work` as the gateway's, outside any plugin's scope (a plugin's fetch, its body read). */
export function asGateway<R>(work: () => R): R {
  return scope.exit(work);
}

/** The plugin whose code (or work it set going) runs now; undefined: the gateway's own. */
export function pluginInScope(): string | undefined {
  return scope.getStore();
}

/** process.exit as Node made it, before refuseExitInPlugins. */
let nodeExit: typeof process.exit | undefined;

/**
 * From now on, `process.exit` called by a plugin's code (its module's top level, its factory,
 * hooks, timers, `close`) throws instead: the plugin's bug, told as any it throws (a 500 naming
 * it, a module that cannot load, a `close` that failed), never the end of a worker and of every
 * request in flight on it, nor a `candor check` that says nothing and exits 0. Anything else's
 * call ends the process as Node's does. Once a process; no cost to a request.
 */
export function refuseExitInPlugins(): void {
  if (nodeExit !== undefined) return;
  const exit = process.exit;
  nodeExit = exit;
  process.exit = function exitUnlessPlugin(code?: number | string | null): never {
    const plugin = scope.getStore();
    if (plugin === undefined) return exit.call(process, code);
    const refused = new Error(
      `called process.exit(${code ?? ''}): a plugin may not end the gateway's process`,
    );
    // Its stack starts at the plugin's call: this guard's frame, Candor's file, would make one
    // thrown from a timer of the plugin's read as the gateway's own bug (plugin-faults.ts), and
    // end the worker with every request in flight on it, the very end the guard refuses.
    Error.captureStackTrace(refused, exitUnlessPlugin);
    throw refused;
  } as typeof process.exit;
}
