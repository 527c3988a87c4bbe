/**
 * `createApp`: the readiness gate, the probes, the request's propagation context, keep-alive
 * timeouts and the graceful shutdown, for one node:http server (Express, Fastify and Hono run
 * on one; see the README's "candor/app" for each).
 *
 * The shutdown, in order: not ready at once (the readiness path answers 503) while everything
 * is still served for `delay`, long enough for the gateway's health check to take the app out;
 * then stop accepting, close idle keep-alive connections, close busy ones after their response
 * (`Connection: close`); at `timeout` from the start, cut what is still open; then the app's
 * cleanup hooks, bounded by `cleanupTimeout`.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { runWithPropagation } from '../client/propagation.ts';
import { ServerConnections } from './connections.ts';
import { messageOf } from './error-message.ts';
import { runListener } from './failed-request.ts';
import { applyKeepAlive } from './keep-alive.ts';
import type { AppState } from './lifecycle.ts';
import { type AppOptions, type AppSettings, resolveAppOptions } from './options.ts';
import { answerProbe } from './probes.ts';
import { propagationFromRequest } from './propagation-from-request.ts';
import { onStopSignals } from './signals.ts';

export interface ShutdownReport {
  /** What started it: a signal's name, or the reason given to `shutdown()`. */
  readonly reason: string;
  /** Connections cut at the deadline (0: every one closed by itself). */
  readonly forced: number;
  /** Cleanup hooks that threw, rejected or overran `cleanupTimeout`. */
  readonly cleanupFailures: number;
  readonly ms: number;
}

export interface App {
  /** Where the app is: only `ready` answers the readiness path with 200. */
  readonly state: AppState;
  /** The options as resolved (defaults filled in, keep-alive timeouts computed). */
  readonly settings: AppSettings;
  /**
   * Wraps a request listener (an Express app, Fastify's handler, Hono's `getRequestListener`):
   * answers the probe paths, and runs every other request inside its propagation context, so
   * calls made with `candor/client` while serving it carry its request id and trace context.
   */
  handle(
    listener: (req: IncomingMessage, res: ServerResponse) => unknown,
  ): (req: IncomingMessage, res: ServerResponse) => void;
  /** Sets the keep-alive timeouts and tracks the server's connections for the shutdown; before `listen`. */
  attach<S extends Server>(server: S): S;
  /** Runs the readiness check until it passes (then `ready`), and installs the signal handlers. */
  start(): Promise<void>;
  /** The shutdown (once; later calls get the same promise). Exiting is the caller's, unless a signal started it. */
  shutdown(reason?: string): Promise<ShutdownReport>;
  /** Brings a shutdown's deadline to now, as a second signal does: the delay ends, connections still open are cut. Nothing before a shutdown. */
  hurry(): void;
}

function after(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let done = () => {};
  const promise = new Promise<void>((resolve) => {
    done = resolve;
    timer = setTimeout(resolve, ms);
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      done();
    },
  };
}

export function createApp(options: AppOptions = {}): App {
  const settings = resolveAppOptions(options);
  const run: AppRun = {
    settings,
    state: 'starting',
    connections: undefined,
    removeSignals: undefined,
    retryWait: undefined,
    deadline: undefined,
    hurried: false,
  };
  let starting: Promise<void> | undefined;
  let stopping: Promise<ShutdownReport> | undefined;
  const app = {
    get state() {
      return run.state;
    },
    settings,
    handle(listener: (req: IncomingMessage, res: ServerResponse) => unknown) {
      return (req: IncomingMessage, res: ServerResponse): void => {
        if (answerProbe(req, res, run.state, settings)) return;
        runWithPropagation(propagationFromRequest(req), () => runListener(listener, req, res, settings.log));
      };
    },
    attach<S extends Server>(server: S): S {
      if (run.connections !== undefined) throw new Error('candor/app: attach takes one server per app');
      applyKeepAlive(server, settings);
      run.connections = new ServerConnections(server);
      return server;
    },
    start(): Promise<void> {
      if (run.removeSignals === undefined && settings.signals.length > 0)
        run.removeSignals = onStopSignals(settings.signals, app, settings.exit);
      starting ??= checkUntilReady(run);
      return starting;
    },
    shutdown(reason = 'shutdown()'): Promise<ShutdownReport> {
      stopping ??= runShutdown(run, reason);
      return stopping;
    },
    hurry(): void {
      // Before a shutdown there is no deadline to bring forward: a stray call must not make a
      // later shutdown's own deadline be logged as a second signal.
      if (run.deadline === undefined) return;
      run.hurried = true;
      run.deadline.cancel();
    },
  };
  return app;
}

/** One app's lifecycle, shared by its steps. */
interface AppRun {
  readonly settings: AppSettings;
  state: AppState;
  connections: ServerConnections | undefined;
  removeSignals: (() => void) | undefined;
  /** The pause between two readiness checks, cut short by a shutdown. */
  retryWait: ReturnType<typeof after> | undefined;
  /** The deadline, brought forward by a second signal. */
  deadline: ReturnType<typeof after> | undefined;
  hurried: boolean;
}

/** Runs the readiness check until it passes (then `ready`), or a shutdown begins. */
async function checkUntilReady(run: AppRun): Promise<void> {
  const { settings } = run;
  const log = settings.log;
  const started = performance.now();
  let lastError: string | undefined;
  for (let attempt = 1; run.state === 'starting'; attempt++) {
    let error: string;
    try {
      if ((settings.ready === undefined ? true : await settings.ready()) !== false) {
        if (run.state !== 'starting') return;
        run.state = 'ready';
        log({ msg: 'ready', attempts: attempt, ms: Math.round(performance.now() - started) });
        return;
      }
      error = 'the check returned false';
    } catch (thrown) {
      error = messageOf(thrown);
    }
    if (run.state !== 'starting') return;
    // Once per reason, not once per retry: a slow start would fill the log otherwise.
    if (error !== lastError) log({ msg: 'not ready yet', attempt, error, retry_in_ms: settings.readyRetry });
    lastError = error;
    run.retryWait = after(settings.readyRetry);
    await run.retryWait.promise;
  }
}

/** The shutdown: drain, close the connections, run the cleanup hooks. */
async function runShutdown(run: AppRun, reason: string): Promise<ShutdownReport> {
  const { settings } = run;
  const started = performance.now();
  const deadline = await drain(run, reason);
  run.state = 'closing';
  const forced = run.connections === undefined ? 0 : await closeConnections(run, run.connections, deadline);
  deadline.cancel();

  const cleanupFailures = await runHooks(settings);
  run.state = 'stopped';
  const ms = Math.round(performance.now() - started);
  settings.log({ msg: 'stopped', reason, forced, cleanup_failures: cleanupFailures, ms });
  if (!settings.exit) run.removeSignals?.();
  return { reason, forced, cleanupFailures, ms };
}

/** Not ready at once, everything still served for the delay (or until the deadline); the deadline armed. */
async function drain(run: AppRun, reason: string): Promise<ReturnType<typeof after>> {
  const { settings } = run;
  // The delay gives the gateway time to see the app not ready and stop sending. An app that
  // never said it was ready was never sent anything by a gateway that checks: no need to wait.
  const delayMs = run.state === 'ready' ? settings.delay : 0;
  run.state = 'draining';
  run.retryWait?.cancel();
  const deadline = after(settings.timeout);
  run.deadline = deadline;
  settings.log({ msg: 'draining: not ready', reason, delay_ms: delayMs, timeout_ms: settings.timeout });
  const delay = after(delayMs);
  await Promise.race([delay.promise, deadline.promise]);
  delay.cancel();
  return deadline;
}

/** Stops accepting and closes the connections as their responses end; those still open at the deadline are cut (their count). */
async function closeConnections(
  run: AppRun,
  connections: ServerConnections,
  deadline: ReturnType<typeof after>,
): Promise<number> {
  const log = run.settings.log;
  const inFlight = connections.inFlight;
  const open = connections.open;
  const closed = connections.close();
  log({ msg: 'draining: stopped accepting', in_flight: inFlight, connections: open });
  const cut = await Promise.race([closed.then(() => false), deadline.promise.then(() => true)]);
  if (!cut) return 0;
  const forced = connections.cut();
  log({
    msg: run.hurried ? 'draining: second signal, connections cut' : 'draining: deadline, connections cut',
    connections: forced,
  });
  // The server's close comes once the cut sockets' close events have run; bounded all the same,
  // so that nothing unforeseen keeps the process past its deadline.
  const late = after(1_000);
  await Promise.race([closed, late.promise]);
  late.cancel();
  return forced;
}

/** The app's cleanup hooks in order, all of them within `cleanupTimeout`; how many failed. */
async function runHooks(settings: AppSettings): Promise<number> {
  let failures = 0;
  const budget = after(settings.cleanupTimeout);
  for (const [index, hook] of settings.hooks.entries()) {
    const outcome = await Promise.race([
      Promise.resolve()
        .then(hook)
        .then(
          () => 'ok',
          (error: unknown) => messageOf(error),
        ),
      budget.promise.then(() => `cleanup still running after ${settings.cleanupTimeout} ms`),
    ]);
    if (outcome === 'ok') continue;
    failures++;
    settings.log({ msg: 'cleanup failed', hook: index, error: outcome });
  }
  budget.cancel();
  return failures;
}
