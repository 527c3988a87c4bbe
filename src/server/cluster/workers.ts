import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { withoutInspectorSignal } from '../../core/config/no-inspector-signal.ts';
import { WORKERS_ENV } from '../../core/limits/worker-share.ts';
import { listeningInodes } from '../../core/net/socket-tables.ts';
import type { WorkerEvent } from '../../observe/events/gateway-event.ts';
import { keepStdioNonBlocking } from '../../observe/log/log-writers.ts';
import type { Logger } from '../../observe/log/logger.ts';
import {
  makeWorkersStore,
  removeLeftoverStores,
  WORKERS_STORE_ENV,
} from '../../proxy/cache/workers-store.ts';
import { isServing } from '../gateway/ipc-protocol.ts';
import {
  type ActionMessage,
  drainWhenNpmParentEnds,
  type GatewayAction,
  onSignals,
} from '../gateway/signals.ts';
import { EXIT } from './exit-codes.ts';
import { closeUntakenAtExit } from './handoffs.ts';
import { PRIMARY_V8_FLAGS } from './primary-compilers.ts';
import { countWorkerExit } from './worker-exits.ts';
import { WORKER_V8_FLAGS } from './worker-flags.ts';

/**
 * `--workers N`: N processes share the listeners (each accepts on a socket of its own where the
 * kernel balances them, src/core/net/listen-options.ts), so one gateway uses every core. The primary only supervises:
 * it restarts a worker that dies (not while draining) and relays the signals of signals.ts to
 * every worker, as messages; it exits after the last worker. SIGHUP is the primary's alone (it
 * reloads, see primary.ts).
 */
export function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return availableParallelism();
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 256) return undefined;
  return Number(value);
}

/** How long past `drain.timeout` a worker may take to exit before the primary kills it. */
const WORKER_EXIT_GRACE_MS = 5_000;

/**
 * A worker that dies is replaced at once the first time; one that keeps dying soon after it
 * started (a crash on every request of some kind, a bad dependency) is replaced after a delay
 * that doubles each time, up to the cap, so a crash loop costs a fork a few seconds rather
 * than all the cores. A worker that lived STABLE_AFTER_MS resets the count.
 */
export const RESTART_BACKOFF = { firstMs: 100, maxMs: 30_000, stableAfterMs: 10_000 } as const;

/** The delay before the replacement of a worker that died after `crashesInARow` short lives (1 = the first). */
export function restartDelay(crashesInARow: number): number {
  if (crashesInARow <= 1) return 0;
  return Math.min(RESTART_BACKOFF.maxMs, RESTART_BACKOFF.firstMs * 2 ** (crashesInARow - 2));
}

/** A worker's replacement waiting out its backoff (GET /status's `workers_restarting`). */
export interface WorkerRestarting {
  /** The worker that died: its pid, and its exit code or the signal that ended it. */
  readonly replaces: { readonly pid: number | null; readonly exit: number | string };
  /** Workers that died soon after they started, in a row, this one included: what the backoff doubles by. */
  readonly short_lived_in_a_row: number;
  /** When the replacement is forked (unless a drain begins first). */
  readonly starts_at: string;
}

/** A worker that died while the gateway ran, as the deploy timeline records it (its `worker` event). */
export type WorkerDied = Omit<WorkerEvent, 'kind' | 'at'>;

interface SuperviseOptions {
  /** drain.timeout of the config in force: a worker still alive this long (plus a grace) after a drain began is killed. */
  readonly drainTimeout: () => number;
  /**
   * What a worker's close may take past its drain for the config in force, beside the grace: the
   * last trace exports (each ends within the exporter's timeout). Killed before they end, a worker
   * was said to have cut requests unlogged, and the gateway exited non-zero, for a slow collector.
   */
  readonly closeAfterDrain?: () => number;
  /**
   * Gets each worker as it is forked (the first ones and every restart) and sends it the
   * snapshot to start on: a worker never reads the config file itself, so one restarted after
   * a crash runs what the others run, not whatever the file says by then.
   */
  readonly onFork: (worker: Worker) => void;
  /** A drain begins (SIGTERM, SIGINT): the primary's readiness turns false. */
  readonly onDrain?: () => void;
  /** SIGUSR1: the primary's own log file is opened again (each worker reopens its own when told). */
  readonly onReopenLogs?: () => void;
  /**
   * The primary's log: a worker replaced, or one that did not end its drain cleanly, is said
   * there too (the JSON lines operators collect), not only on stderr.
   */
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The replacements waiting out their backoff, each time they change (none: an empty list). */
  readonly onRestarting?: (waiting: readonly WorkerRestarting[]) => void;
  /**
   * A worker died while the gateway ran (not in a drain, not one that could not start and stops
   * the gateway): told once, as its replacement is forked or set to wait, for the deploy timeline.
   */
  readonly onDied?: (died: WorkerDied) => void;
}

export function superviseWorkers(count: number, options: SuperviseOptions): Promise<number> {
  // The primary's own flags (bin/candor.js started it with them) are not a worker's.
  const own = process.execArgv.filter((flag) => !PRIMARY_V8_FLAGS.includes(flag));
  // SIGUSR1 never opens a worker's inspector: a worker ignores the signal, and reopens its log
  // files when its primary (which took the signal over with a listener, bin/candor.js) relays it.
  const execArgv = withoutInspectorSignal([...own, ...WORKER_V8_FLAGS]);
  cluster.setupPrimary({ execArgv });
  // The folders primaries killed before us left (workers-store.ts), whatever our own count: a
  // crash loop would otherwise fill /dev/shm.
  for (const left of removeLeftoverStores())
    options.logger.info(
      { dir: left.dir, pid: left.pid },
      "removed the workers' shared cache folder of a gateway no longer running",
    );
  // One cache for every worker (workers-store.ts): the folder their routes' caches share.
  const store = count > 1 ? makeWorkersStore() : undefined;
  if (count > 1 && store === undefined)
    options.logger.warn(
      { workers: count },
      "the workers' shared cache folder could not be made: each worker keeps its own stored answers",
    );
  const env = { [WORKERS_ENV]: String(count), ...(store && { [WORKERS_STORE_ENV]: store.dir }) };
  return new Promise((resolve) => {
    new Supervision(env, options, (code) => {
      store?.remove();
      resolve(code);
    }).start(count);
  });
}

/** One run of the workers: forked, replaced when they die, drained on a signal, until the last exits. */
class Supervision {
  #alive = 0;
  #stopping = false;
  #exitCode: number = EXIT.ok;
  readonly #bornAt = new Map<number, number>();
  /** Workers that died after a short life, in a row (any worker: a crash loop is the code's, not one slot's). */
  #crashesInARow = 0;
  /** Replacements waiting out their backoff: forked unless a drain begins first. */
  readonly #waiting = new Map<NodeJS.Timeout, WorkerRestarting>();
  /** Some worker has served since the start: a replacement that cannot start is no reason to stop the others. */
  #served = false;
  /** The workers (by id) that said they serve: one that dies had connections to cut. */
  readonly #serving = new Set<number>();
  #backstop: NodeJS.Timeout | undefined;
  /** Workers the backstop killed: their exit was already told, with its cause. */
  readonly #killed = new Set<number | undefined>();
  #offSignals: () => void = () => {};
  readonly #env: Record<string, string>;
  readonly #options: SuperviseOptions;
  readonly #done: (code: number) => void;

  constructor(env: Record<string, string>, options: SuperviseOptions, done: (code: number) => void) {
    this.#env = env;
    this.#options = options;
    this.#done = done;
  }

  start(count: number): void {
    cluster.on('exit', (worker, code, signal) => this.#exited(worker, code, signal));
    const offSignals = onSignals((action) => {
      if (action !== 'reopen-logs') return this.#stopAll(action);
      shutEarlyInspector(true);
      this.#options.onReopenLogs?.();
      this.#send(action);
    });
    // A drain already under way (the group's signal ended the shell too) is left to run.
    const offParent = drainWhenNpmParentEnds(() => {
      if (!this.#stopping) this.#stopAll('drain');
    });
    this.#offSignals = () => {
      offSignals();
      offParent();
    };
    // Now, not at the next SIGUSR1 (a day later, for logrotate): it may be the one that opened it.
    shutEarlyInspector(false);
    for (let i = 0; i < count; i++) this.#fork();
  }

  #livingWorkers(): number {
    return Object.values(cluster.workers ?? {}).filter((w) => w?.isDead() === false).length;
  }

  #fork(): Worker {
    this.#alive++;
    const worker = cluster.fork(this.#env);
    // Until it serves: a worker's later messages (a shared limit's asks, one per request) pass by.
    const onServing = (message: unknown): void => {
      if (!isServing(message)) return;
      this.#served = true;
      this.#serving.add(worker.id);
      worker.off('message', onServing);
    };
    worker.on('message', onServing);
    // A connection the primary accepted for it and it died before taking: closed, not held for good.
    closeUntakenAtExit(worker);
    // The fork made the stdout and stderr every process shares blocking (LineWriter.keepNonBlocking):
    // set again before the worker's Node reads the flag it will put back at its exit.
    keepStdioNonBlocking();
    // process.uptime(), not performance.now(): the global `performance` loads node:perf_hooks,
    // half a MiB of a primary that needs no other part of it.
    this.#bornAt.set(worker.id, process.uptime() * 1000);
    // A send to a worker that just died fails with EPIPE as an 'error' event: without a
    // listener it would take the primary (and every other worker) down. Its 'exit' follows.
    worker.on('error', (err: NodeJS.ErrnoException) => {
      // A send that met the worker already gone (one that could not start) is no news: its
      // exit says what happened, and a line per such send only buried the refusal said before.
      // The channel can break before the primary has seen the disconnect, so isConnected() may
      // still say true here: the code alone decides.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return;
      process.stderr.write(`candor: worker ${worker.process.pid}: ${err.message}\n`);
    });
    this.#options.onFork(worker);
    return worker;
  }

  #send(action: GatewayAction): void {
    const message: ActionMessage = { candor: 'action', action };
    for (const worker of Object.values(cluster.workers ?? {}))
      if (worker?.isConnected()) worker.send(message);
  }

  #stopAll(action: 'drain' | 'drain-now'): void {
    this.#stopping = true;
    for (const timer of this.#waiting.keys()) {
      clearTimeout(timer);
      this.#alive--;
    }
    this.#waiting.clear();
    this.#toldWaiting();
    if (this.#alive === 0) return this.#finish();
    this.#options.onDrain?.();
    this.#send(action);
    // Each worker keeps its own deadline; this only catches one that cannot (a stuck loop).
    this.#backstop ??= setTimeout(
      () => this.#killOutlivers(),
      this.#options.drainTimeout() + this.#graceMs(),
    ).unref();
  }

  /** How long past drain.timeout a worker may take to exit: the grace, and its last trace exports. */
  #graceMs(): number {
    return WORKER_EXIT_GRACE_MS + (this.#options.closeAfterDrain?.() ?? 0);
  }

  #killOutlivers(): void {
    for (const worker of Object.values(cluster.workers ?? {})) {
      const pid = worker?.process.pid;
      process.stderr.write(`candor: worker ${pid} outlived the drain; killing it\n`);
      this.#options.logger.error(
        { pid, drain_timeout_ms: this.#options.drainTimeout(), grace_ms: this.#graceMs() },
        'worker outlived the drain: killed (SIGKILL), its requests in flight without their log lines',
      );
      this.#killed.add(pid);
      worker?.process.kill('SIGKILL');
    }
  }

  #finish(): void {
    this.#offSignals();
    clearTimeout(this.#backstop);
    this.#done(this.#exitCode);
  }

  #exited(worker: Worker, code: number, signal: string): void {
    this.#alive--;
    const lived = process.uptime() * 1000 - (this.#bornAt.get(worker.id) ?? 0);
    this.#bornAt.delete(worker.id);
    const served = this.#serving.delete(worker.id);
    if (!this.#stopping && isDrainSignal(signal) && !served) {
      // A worker still loading Node, ended by a drain signal's default action: most likely the
      // process group's (Ctrl-C), whose copy for the primary is handled in this same turn of the
      // event loop. Decided after it, so that a stop is not taken for a crash to replace.
      setImmediate(() => {
        if (!this.#stopping) this.#died(worker, code, signal, lived, served);
      });
      return;
    }
    if (!this.#stopping) this.#died(worker, code, signal, lived, served);
    // A worker that did not end its drain with 0 (killed by the backstop above, or by the
    // kernel's OOM killer, or crashed) cut what it held: the stop was not clean, and the
    // primary's exit says so to its supervisor (systemd marks the unit failed).
    // Nor did one that never served and was ended by a drain signal: Ctrl-C (or a stop sent to
    // the process group) while it still loaded Node met it before any handler of its own.
    else if (code !== EXIT.ok && !endedItsDrain(worker, signal) && !(isDrainSignal(signal) && !served)) {
      // One refused at its start as the worker that stopped the gateway was (the same config,
      // met before the stop reached it) held nothing to cut: its refusal is said already.
      const refusedAlike = code === this.#exitCode && (code === EXIT.unavailable || code === EXIT.config);
      if (!this.#killed.has(worker.process.pid) && !refusedAlike)
        this.#options.logger.error(
          { pid: worker.process.pid, exit: signal ?? code },
          'worker did not end its drain cleanly',
        );
      if (this.#exitCode === EXIT.ok) this.#exitCode = EXIT.unclean;
    }
    if (this.#stopping && this.#alive === 0) this.#finish();
  }

  /** A worker died while the gateway runs: replaced, or the gateway stops if none could start. */
  #died(worker: Worker, code: number, signal: string, lived: number, served: boolean): void {
    countWorkerExit(signal ?? code);
    // A worker that could not start (port in use, bad certificate) would fail again at once:
    // the gateway stops, unless it was a replacement and other workers serve. Those go on
    // (a certificate file missing for the moment of a renewal's move must not take them
    // down), and the replacement is tried again as a crash's is, with the backoff below.
    const couldNotStart = code === EXIT.unavailable || code === EXIT.config;
    if (couldNotStart && (!this.#served || this.#livingWorkers() === 0)) {
      this.#exitCode = code;
      this.#options.logger.error(
        { pid: worker.process.pid, exit: code },
        this.#served
          ? 'no worker left and its replacement could not start: the gateway stops'
          : 'a worker could not start: the gateway stops',
      );
      this.#stopAll('drain');
      return;
    }
    this.#crashesInARow = lived >= RESTART_BACKOFF.stableAfterMs ? 1 : this.#crashesInARow + 1;
    const delay = restartDelay(this.#crashesInARow);
    const when =
      delay === 0 ? '' : ` in ${delay / 1000} s (${this.#crashesInARow} short-lived workers in a row)`;
    process.stderr.write(
      `candor: worker ${worker.process.pid} exited (${signal ?? code}); starting another${when}\n`,
    );
    this.#options.logger.warn(
      {
        pid: worker.process.pid,
        exit: signal ?? code,
        restart_in_ms: delay,
        short_lived_in_a_row: this.#crashesInARow,
      },
      'worker exited: starting another',
    );
    const died: WorkerDied = {
      pid: worker.process.pid ?? null,
      exit: signal ?? code,
      served,
      short_lived_in_a_row: this.#crashesInARow,
      restart_in_ms: delay,
    };
    if (delay === 0) {
      const next = this.#fork().process.pid;
      this.#options.onDied?.(next === undefined ? died : { ...died, replacement_pid: next });
      return;
    }
    this.#options.onDied?.(died);
    // Counted alive while it waits, so the primary does not exit for want of workers.
    this.#alive++;
    const timer = setTimeout(() => {
      this.#waiting.delete(timer);
      this.#toldWaiting();
      this.#alive--;
      this.#fork();
    }, delay);
    this.#waiting.set(timer, {
      replaces: { pid: worker.process.pid ?? null, exit: signal ?? code },
      short_lived_in_a_row: this.#crashesInARow,
      starts_at: new Date(Date.now() + delay).toISOString(),
    });
    this.#toldWaiting();
  }

  #toldWaiting(): void {
    this.#options.onRestarting?.([...this.#waiting.values()]);
  }
}

/**
 * A SIGUSR1 in the first milliseconds of the primary's start (before bin/candor.js took the
 * signal over; its start with its V8 flags is a second such start) opens Node's inspector on
 * 127.0.0.1:`process.debugPort`: shut that door, unless the command line asked for one. Loads
 * node:inspector (half a MiB of a process that otherwise never needs it) only when something
 * listens on that port (Linux's /proc tells it), or `always`.
 */
function shutEarlyInspector(always: boolean): void {
  const argv = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (argv.some((arg) => /^--inspect(-brk|-wait)?(=|$)/.test(arg))) return;
  if (!always && !listensOn(process.debugPort)) return;
  const inspector = process.getBuiltinModule('node:inspector');
  if (inspector.url() === undefined) return;
  inspector.close();
  process.stderr.write('candor: a SIGUSR1 during startup had opened the inspector; closed it\n');
}

/** Whether a socket listens on this TCP port (any address); true where /proc cannot say. */
function listensOn(port: number): boolean {
  const inodes = listeningInodes(port);
  return inodes === undefined || inodes.length > 0;
}

/**
 * A worker killed by a drain signal after it had disconnected itself (serve.ts does so once its
 * drain is over and it returns 0) ended its drain: a second Ctrl-C reaches the whole process
 * group, and one landing as Node tears the worker down (each signal's default action restored,
 * after its 'exit' event) kills it. That is a clean stop, not one to call unclean.
 */
function endedItsDrain(worker: Worker, signal: string | null): boolean {
  return worker.exitedAfterDisconnect === true && isDrainSignal(signal);
}

/** A signal that asks for a drain (its default action, met before a handler, ends the process). */
function isDrainSignal(signal: string | null): boolean {
  return signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGQUIT';
}
