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
