/**
 * The calls by which a plugin's code could end the worker it runs in (and every request in flight
 * on it), refused while that code runs (plugin-scope.ts): each throws instead, the plugin's bug
 * told as any it throws (a 500 naming it and its hook, a stray error logged naming it, a module
 * that cannot load, a `close` that failed). Anything else's call goes through as Node's does.
 *
 * What is beyond this guard (docs/plugins.md, Trust): a signal sent to another process (a process
 * group other than the gateway's own, which Node cannot name, or any pid but the gateway's), or
 * sent by a process the plugin starts (`kill -9` run by `child_process`): the plugin runs with
 * the worker's rights, and there is no sandbox.
 */
import cluster from 'node:cluster';
import { pluginInScope } from './plugin-scope.ts';

type Callable = (...args: unknown[]) => unknown;

/** Why each call is refused: the end of the worker, or its cut from the primary that runs it. */
const ENDS = "a plugin may not end the gateway's process";
const CUTS = 'a plugin may not cut the worker from its primary';

let guarded = false;

/**
 * From now on, a plugin's code (its module's top level, its factory, hooks, timers, `close`) is
 * refused `process.exit`, `process.reallyExit` (what `exit` calls: Node's own call, out of any
 * plugin's scope, goes through), `process.abort`, `process.kill` of the gateway's own process
 * (signal 0, which only asks whether a process is there, goes through), and in a cluster worker
 * `process.disconnect` and the worker's `disconnect`, `kill` and `destroy`: a worker cut from its
 * primary ends (Node's cluster exits it), and no reload nor drain reaches it meanwhile. Once a
 * process; no cost to a request.
 */
export function guardProcessFromPlugins(): void {
  if (guarded) return;
  guarded = true;
  refuseInPlugins(process, 'exit', (code) => `process.exit(${code ?? ''})`, ENDS);
  refuseInPlugins(process, 'reallyExit', (code) => `process.reallyExit(${code ?? ''})`, ENDS);
  refuseInPlugins(process, 'abort', () => 'process.abort()', ENDS);
  refuseInPlugins(
    process,
    'kill',
    (pid, signal) =>
      signal !== 0 && isTheGatewaysProcess(pid) ? `process.kill(${pid}, ${signal ?? 'SIGTERM'})` : undefined,
    ENDS,
  );
  refuseInPlugins(process, 'disconnect', () => 'process.disconnect()', CUTS);
  const worker = cluster.worker;
  if (worker !== undefined)
    for (const call of ['disconnect', 'kill', 'destroy'])
      refuseInPlugins(worker, call, () => `cluster.worker.${call}()`, CUTS);
}

/**
 * Whether kill(2) given `pid` signals the gateway's own process: its pid; 0, its process group;
 * -1, every process it may signal; its pid negated, the group it leads; and in a cluster worker
 * the primary (and the group it leads), whose end ends the worker too.
 */
function isTheGatewaysProcess(pid: unknown): boolean {
  const n = Number(pid);
  if (n === 0 || n === -1 || Math.abs(n) === process.pid) return true;
  return cluster.isWorker && Math.abs(n) === process.ppid;
}

/**
 * Replaces `owner[key]` (when it is a function: `process.disconnect` is there only with an IPC
 * channel) by one that throws when a plugin's code calls it and `refusal` names the call.
 */
function refuseInPlugins(
  owner: object,
  key: string,
  refusal: (...args: unknown[]) => string | undefined,
  why: string,
): void {
  const original = Reflect.get(owner, key) as Callable | undefined;
  if (typeof original !== 'function') return;
  const refusing = function refusing(...args: unknown[]): unknown {
    const call = pluginInScope() === undefined ? undefined : refusal(...args);
    if (call === undefined) return original.apply(owner, args);
    const refused = new Error(`called ${call}: ${why}`);
    // Its stack starts at the plugin's call: this guard's frame, Candor's file, would make one
    // thrown from a timer of the plugin's read as the gateway's own bug (plugin-faults.ts), and
    // end the worker with every request in flight on it, the very end the guard refuses.
    Error.captureStackTrace(refused, refusing);
    throw refused;
  };
  Reflect.set(owner, key, refusing);
}
