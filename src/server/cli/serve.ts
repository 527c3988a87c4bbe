import cluster from 'node:cluster';
import { flushCompileCache } from 'node:module';
import { isBootstrapFile } from '../../core/config/bootstrap-sniff.ts';
import { ConfigError, formatConfigProblem, formatConfigProblems } from '../../core/config/config-error.ts';
import { LoaderNotStarted, loadConfigAndProbe, takenProblems } from '../../core/config/load-isolated.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { descriptorAdvice } from '../../core/failure/out-of-descriptors.ts';
import { reopenLogFiles } from '../../observe/log/log-writers.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { ServingMessage, StartRefusedMessage } from '../gateway/ipc-protocol.ts';
import { type ActionInbox, listenForActions } from '../gateway/signals.ts';
import { endOnceDone } from './end-process.ts';

interface ServeOptions {
  readonly config: string | undefined;
  readonly demo: boolean;
  /** Worker processes sharing the listeners, under a supervising primary. */
  readonly workers: number;
  /** Where to write the primary's pid while it runs. */
  readonly pidFile?: string;
}

/** `candor serve`: run until SIGINT/SIGTERM, then drain and exit 0. */
export async function runServe(options: ServeOptions): Promise<number> {
  // The primary, a worker, the demo's or a fleet's: each ends here once its work is done.
  return endOnceDone(await serve(options));
}

async function serve(options: ServeOptions): Promise<number> {
  if (cluster.isWorker) {
    // Listening for the primary's actions (drain, reopen the log) from the first moment: one
    // sent while the worker starts would otherwise be lost.
    const inbox = listenForActions();
    // A worker never reads the file: the primary sends the snapshot in force (see worker-channel.ts).
    const code = await serveUntilSignal(inbox);
    // A worker's IPC channel to the primary would keep it alive after the gateway closed (unless
    // the primary is gone, and the channel with it).
    if (process.connected) cluster.worker?.disconnect();
    return code;
  }
  // The demo runs as `candor serve` does (a primary, its workers, the admin API): a worker of
  // the demo is a worker like any other, given its config by the primary.
  if (options.demo) return runDemo(options.workers, options.pidFile);
  if (options.config === undefined) {
    // A usage error, said as main.ts's usage() says the others: the command, then its help.
    process.stderr.write('candor serve: needs --config FILE (or --demo)\nRun "candor --help" for usage.\n');
    return EXIT.usage;
  }
  // A bootstrap file names a config source (etcd) rather than being the config: a fleet's gateway.
  if (isBootstrapFile(options.config))
    return (await import('./serve-fleet.ts')).runFleetServe(options.config, options.workers, options.pidFile);
  // Read and validated in a process of its own, as a reload is: the YAML reader and the schema
  // (about 24 MB once loaded) are never in the supervising primary, and a worker is sent its
  // config ready-made. The same process finds whether each address can be had, before anything
  // listens: the workers' SO_REUSEPORT would let them join another process on it instead of
  // failing (address-probe.ts).
  let config: GatewayConfig;
  try {
    const loaded = await loadConfigAndProbe(options.config, []);
    // Each address held elsewhere (the admin listener's too), at its field as a reload says it.
    const taken = takenProblems(loaded);
    if (taken.length > 0) {
      // The file as the operator named it, as a config problem says it.
      for (const problem of taken)
        process.stderr.write(
          `candor: could not start: ${formatConfigProblem({ ...problem, file: options.config })}\n`,
        );
      return EXIT.unavailable;
    }
    config = loaded.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(formatConfigProblems(err.problems) + '\n');
      return EXIT.config;
    }
    // Said in a line, not thrown: a raw stack told an operator under a low ulimit -n nothing.
    if (err instanceof LoaderNotStarted) {
      process.stderr.write(`candor: could not start: ${err.message}\n`);
      return EXIT.unavailable;
    }
    throw err;
  }
  // The primary validated the config above (so a bad file fails once, not once per worker) and
  // now only supervises, even a single worker: it restarts one that dies, and only a worker
  // started by it runs with the memory settings of workers.ts.
  return (await import('./primary.ts')).runPrimary(options.config, config, options.workers, {
    pidFile: options.pidFile,
  });
}

/** `candor serve --demo`: the demo's upstreams and config, served by the primary of `candor serve`. */
async function runDemo(workers: number, pidFile: string | undefined): Promise<number> {
  const demo = await (await import('../demo/demo.ts')).prepareDemo();
  if ('problem' in demo) {
    process.stderr.write(`candor demo: could not start: ${demo.problem}\n`);
    return EXIT.unavailable;
  }
  try {
    return await (await import('./primary.ts')).runPrimary(demo.path, demo.config, workers, {
      announce: (where) => process.stderr.write(demo.banner(where)),
      pidFile,
    });
  } finally {
    await demo.close();
  }
}

/**
 * A worker: starts on the snapshot its primary sends, serves until a drain is asked for (its
 * primary's message; SIGTERM/SIGINT reach it that way), then drains and returns.
 */
async function serveUntilSignal(inbox: ActionInbox): Promise<number> {
  // A terminal's hangup reaches the whole process group: only the primary acts on it (reload).
  process.on('SIGHUP', () => {});
  try {
    // Imported here, in the worker: the supervising primary never loads the data path. Each module
    // the worker needs once it serves (its fault handling, the idle trim) is loaded now, before
    // any listener opens: loaded after, under a low open-file limit (ulimit -n) that the listeners
    // used up, its import failed EMFILE and the worker ended with a raw stack, serving nothing.
    const modules = await Promise.all([
      import('../gateway/gateway.ts'),
      import('../gateway/worker-channel.ts'),
      import('./worker-faults.ts'),
      import('../gateway/idle-trim.ts'),
    ]).catch((err: Error) => err);
    if (modules instanceof Error) {
      await tellPrimaryRefused(
        new Error(
          `could not load its modules: ${modules.message}${descriptorAdvice((modules as NodeJS.ErrnoException).code)}`,
        ),
      );
      return EXIT.unavailable;
    }
    const [{ startGateway }, { awaitStart, serveThePrimary }, { handleUncaught }, { trimWhenIdle }] = modules;
    // The primary sends the snapshot in force: the one every other worker runs now.
    // Health checks, rate limits and the other workers' news come through the primary's link.
    const { config, changes, link, early } = await awaitStart();
    // The primary serves /metrics, every worker's merged; this worker answers its requests for counts.
    // Answering the primary's scrapes before the gateway is up: a scrape waits for every
    // worker, and one still starting would fail it.
    const { GatewayMetrics } = await import('../../observe/metrics/metrics.ts');
    const metrics = new GatewayMetrics();
    (await import('../../observe/metrics/cluster.ts')).answerPrimaryWith(metrics.registry);
    // An error nothing caught: a plugin's is logged and the worker goes on; any other (a bug)
    // ends it at once, logged as a crash (worker-faults.ts). From before the start: a plugin's
    // module and factory run in it.
    const uncaught = handleUncaught(metrics);
    const starting = startGateway(config, { changes, serveMetrics: false, cluster: link, metrics });
    const stopServing = serveThePrimary(starting, early);
    let gateway: Gateway;
    try {
      gateway = await starting;
    } catch (err) {
      stopServing();
      process.stderr.write(uncaught.waited());
      uncaught.stop();
      await tellPrimaryRefused(err as Error);
      return EXIT.unavailable;
    }
    uncaught.logTo(gateway.logger);
    const stopHandling = uncaught.stop;
    const serving: ServingMessage = { candor: 'serving', ports: gateway.listeners.map((l) => l.port()) };
    process.send?.(serving);
    // Every module the gateway runs is loaded now: write the compile cache for the next start.
    flushCompileCache?.();
    // What a load grew (the young generation at its cap) is given back once the load is gone.
    const stopTrimming = trimWhenIdle();
    await new Promise<void>((stopped) => {
      inbox.attach((action) => {
        if (action === 'reopen-logs') return reopenLogFiles(gateway.logger);
        (action === 'drain-now' ? gateway.drainNow() : gateway.drain()).then(stopped, stopped);
      });
      drainWithoutPrimary(gateway, stopped);
    });
    stopServing();
    stopTrimming();
    link.close();
    stopHandling();
  } finally {
    inbox.close();
  }
  // Whatever still holds the event loop must not keep a drained gateway alive: endOnceDone.
  return EXIT.ok;
}

/**
 * Why this worker could not start, sent to its primary, which says it once for the gateway (every
 * worker meets the same config) and places a fleet's problems in the etcd document; written here
 * only when there is no primary to send it to.
 */
async function tellPrimaryRefused(err: Error): Promise<void> {
  const refused: StartRefusedMessage = {
    candor: 'start_refused',
    message: err.message,
    ...(err instanceof ConfigError ? { problems: err.problems } : {}),
  };
  const sent = await new Promise<boolean>((done) => {
    if (process.send === undefined || !process.connected) return done(false);
    process.send(refused, undefined, {}, (failed) => done(failed === null || failed === undefined));
  });
  if (!sent) process.stderr.write(`candor: could not start: ${err.message}\n`);
}

/**
 * The primary gone (killed, OOM-killed, crashed): node:cluster would end this worker on the
 * spot (its 'disconnect' rule), every request in flight cut and unlogged, and nothing in the log
 * to say why. The worker drains instead, as close() does: it stops accepting at once (no load
 * balancer to wait for, and the address must be free for the gateway its supervisor starts
 * again), its requests end or are cut at drain.timeout, each with its log line.
 */
function drainWithoutPrimary(gateway: Gateway, stopped: () => void): void {
  const worker = cluster.worker;
  if (worker === undefined) return;
  // Node's own rule reads this flag: set, its handler leaves the exit to us.
  worker.exitedAfterDisconnect = true;
  process.once('disconnect', () => {
    if (gateway.draining) return;
    gateway.logger.error(
      { pid: process.pid },
      'the primary is gone: this worker drains (stops accepting now, its requests end by drain.timeout) and exits',
    );
    gateway.close().then(stopped, stopped);
  });
}
