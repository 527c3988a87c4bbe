import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { EXIT } from './exit-codes.ts';

/**
 * `--workers N`: N processes share the listening sockets (Node's cluster hands accepted
 * connections round robin), so one gateway uses every core. The primary only supervises:
 * it restarts a worker that dies and relays SIGINT/SIGTERM so every worker drains. SIGHUP is
 * the primary's alone (it reloads, see primary.ts).
 */
export function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return availableParallelism();
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 256) return undefined;
  return Number(value);
}

/**
 * V8 sizes the young generation from the machine's memory: on a 24 GB host its two
 * semi-spaces grow to 64 MB each under load, and a worker's RSS follows them to ~280 MB.
 * 8 MB semi-spaces cost no measurable throughput (the survivors of a request are few) and
 * keep a worker's peak RSS near 160 MB. Heap limits can only be set when a process starts,
 * which is why even one worker runs under a primary.
 */
const WORKER_V8_FLAGS = ['--max-semi-space-size=8'];

/**
 * `onFork` gets each worker as it is forked (the first ones and every restart) and sends it
 * the snapshot to start on: a worker never reads the config file itself, so one restarted
 * after a crash runs what the others run, not whatever the file says by then.
 */
export function superviseWorkers(count: number, onFork: (worker: Worker) => void): Promise<number> {
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...WORKER_V8_FLAGS] });
  return new Promise((resolve) => {
    let alive = 0;
    let stopping = false;
    let exitCode: number = EXIT.ok;
    const fork = () => {
      alive++;
      onFork(cluster.fork());
    };
    const stopAll = (signal: NodeJS.Signals) => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    };
    cluster.on('exit', (worker, code, signal) => {
      alive--;
      if (!stopping) {
        // A worker that could not start (port in use, bad certificate) would fail again at once.
        if (code === EXIT.unavailable || code === EXIT.config) {
          exitCode = code;
          stopAll('SIGTERM');
        } else {
          process.stderr.write(
            `candor: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`,
          );
          fork();
        }
      }
      if (stopping && alive === 0) resolve(exitCode);
    });
    process.once('SIGINT', () => stopAll('SIGINT'));
    process.once('SIGTERM', () => stopAll('SIGTERM'));
    for (let i = 0; i < count; i++) fork();
  });
}
