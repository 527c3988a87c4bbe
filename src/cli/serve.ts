import cluster from 'node:cluster';
import { flushCompileCache } from 'node:module';
import { ConfigError, formatConfigProblems } from '../config/config-error.ts';
import { loadConfigFile } from '../config/load.ts';
import type { GatewayConfig } from '../config/types.ts';
import { untilSignal } from '../gateway/signals.ts';
import { EXIT } from './exit-codes.ts';

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
  if (cluster.isWorker) {
    // A worker never reads the file: the primary sends the snapshot in force (see worker-channel.ts).
    const code = await serveUntilSignal();
    // A worker's IPC channel to the primary would keep it alive after the gateway closed.
    cluster.worker?.disconnect();
    return code;
  }
  if (options.config === undefined) {
    process.stderr.write('candor: serve needs --config FILE (or --demo)\n');
    return EXIT.usage;
  }
  let config: GatewayConfig;
  try {
    config = await loadConfigFile(options.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(formatConfigProblems(err.problems) + '\n');
      return EXIT.config;
    }
    throw err;
  }
  // The primary validated the config above (so a bad file fails once, not once per worker) and
  // now only supervises, even a single worker: it restarts one that dies, and only a worker
  // started by it runs with the memory settings of workers.ts.
  return (await import('./primary.ts')).runPrimary(options.config, config, options.workers);
}

async function serveUntilSignal(): Promise<number> {
  // A terminal's hangup reaches the whole process group: only the primary acts on it (reload).
  process.on('SIGHUP', () => {});
  // Imported here, in the worker: the supervising primary never loads the data path.
  const { startGateway } = await import('../gateway/gateway.ts');
  const { awaitStart, serveThePrimary } = await import('../gateway/worker-channel.ts');
  // The primary sends the snapshot in force: the one every other worker runs now.
  const { config, changes } = await awaitStart();
  const starting = startGateway(config, { changes });
  const stopServing = serveThePrimary(starting);
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await starting;
  } catch (err) {
    stopServing();
    process.stderr.write(`candor: could not start: ${(err as Error).message}\n`);
    return EXIT.unavailable;
  }
  // Every module the gateway runs is loaded now: write the compile cache for the next start.
  flushCompileCache?.();
  await untilSignal();
  stopServing();
  await gateway.close();
  return EXIT.ok;
}
