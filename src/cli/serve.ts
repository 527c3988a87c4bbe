import cluster from 'node:cluster';
import { flushCompileCache } from 'node:module';
import { ConfigError, formatConfigProblems } from '../config/config-error.ts';
import { loadConfigFile } from '../config/load.ts';
import type { GatewayConfig } from '../config/types.ts';
import type { Gateway } from '../gateway/gateway.ts';
import { type ActionInbox, listenForActions } from '../gateway/signals.ts';
import { reopenLogFiles } from '../log/logger.ts';
import { EXIT } from './exit-codes.ts';
import { superviseWorkers } from './workers.ts';

export interface ServeOptions {
  readonly config: string | undefined;
  readonly demo: boolean;
  /** Worker processes sharing the listeners, under a supervising primary. */
  readonly workers: number;
}

/** `candor serve`: run until SIGINT/SIGTERM, then drain and exit 0. */
export async function runServe(options: ServeOptions): Promise<number> {
  if (options.demo) {
    const end = await (await import('../demo/demo.ts')).startDemo();
    return end === 'stopped' ? EXIT.ok : EXIT.unavailable;
  }
  if (options.config === undefined) {
    process.stderr.write('candor: serve needs --config FILE (or --demo)\n');
    return EXIT.usage;
  }
  const inbox = cluster.isWorker ? listenForActions() : undefined;
  let config: GatewayConfig;
  try {
    config = await loadConfigFile(options.config);
  } catch (err) {
    inbox?.close();
    if (err instanceof ConfigError) {
      process.stderr.write(formatConfigProblems(err.problems) + '\n');
      return EXIT.config;
    }
    throw err;
  }
  // The primary validated the config above (so a bad file fails once, not once per worker) and
  // now only supervises, even a single worker: it restarts one that dies, and only a worker
  // started by it runs with the memory settings of workers.ts.
  if (cluster.isPrimary) return superviseWithMetrics(config, options.workers);
  const code = await serveUntilSignal(config, inbox ?? listenForActions());
  // A worker's IPC channel to the primary would keep it alive after the gateway closed.
  if (cluster.isWorker) cluster.worker?.disconnect();
  return code;
}

/**
/**
 * The primary serves `metrics.listen` itself: every worker's metrics, merged, on one port
 * (a worker's own listener would show one worker's share at random).
 */
async function superviseWithMetrics(config: GatewayConfig, workers: number): Promise<number> {
  const supervision = { drainTimeout: config.drain.timeout };
  if (config.metrics === undefined) return superviseWorkers(workers, supervision);
  const { renderClusterMetrics } = await import('../metrics/cluster.ts');
  const { startMetricsListener } = await import('../metrics/metrics-listener.ts');
  let listener: Awaited<ReturnType<typeof startMetricsListener>>;
  try {
    listener = await startMetricsListener(config.metrics, renderClusterMetrics);
  } catch (err) {
    process.stderr.write(
      `candor: could not serve metrics on ${config.metrics.address}: ${(err as Error).message}\n`,
    );
    return EXIT.unavailable;
  }
  const code = await superviseWorkers(workers, supervision);
  await listener.close();
  return code;
}

/**
 * A worker: serves until a drain is asked for (its own SIGTERM/SIGINT, or its primary's
 * message), then drains and returns.
 */
async function serveUntilSignal(config: GatewayConfig, inbox: ActionInbox): Promise<number> {
  try {
    // Imported here, in the worker: the supervising primary never loads the data path.
    const { startGateway } = await import('../gateway/gateway.ts');
    let gateway: Gateway;
    try {
      // Under the cluster the primary serves /metrics; this worker answers its requests for counts.
      gateway = await startGateway(config, { serveMetrics: !cluster.isWorker });
    } catch (err) {
      process.stderr.write(`candor: could not start: ${(err as Error).message}\n`);
      return EXIT.unavailable;
    }
    if (cluster.isWorker) (await import('../metrics/cluster.ts')).answerPrimaryWith(gateway.metrics.registry);
    // Every module the gateway runs is loaded now: write the compile cache for the next start.
    flushCompileCache?.();
    await new Promise<void>((stopped) => {
      inbox.attach((action) => {
        if (action === 'reopen-logs') return reopenLogs(gateway);
        (action === 'drain-now' ? gateway.drainNow() : gateway.drain()).then(stopped, stopped);
      });
    });
  } finally {
    inbox.close();
  }
  // Whatever still holds the event loop (it should be nothing) must not keep a drained
  // gateway alive: the log is flushed, and the exit handler writes any line left.
  setTimeout(() => process.exit(EXIT.ok), 2_000).unref();
  return EXIT.ok;
}

/** SIGUSR1: the log file is opened again at its path, and the line saying so is its first. */
function reopenLogs(gateway: Gateway): void {
  for (const reopened of reopenLogFiles()) {
    if ('error' in reopened)
      gateway.logger.error({ file: reopened.file, err: reopened.error }, 'could not reopen the log file');
    else gateway.logger.info({ file: reopened.file }, 'reopened the log file');
  }
}
