/**
 * Loading a config beside a running gateway: the file is read and validated on a thread of its
 * own, with a deadline and a heap of its own, so that a file that is slow or huge to read (or a
 * YAML construct the bounds of yaml-source.ts did not foresee) costs a refused reload, never a
 * stalled event loop in the process that runs the admin API and signals, nor its memory.
 */
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { deepFreeze } from './freeze.ts';
import type { LoadAnswer } from './load-worker.ts';
import type { GatewayConfig } from './types.ts';

export interface IsolatedLoadBounds {
  /** How long reading and validating may take before the thread is stopped and the load refused. */
  readonly deadlineMs: number;
  /** The thread's heap, in MiB: a file that needs more is refused. */
  readonly heapMb: number;
}

/** A config is a few thousand values read in milliseconds: these are far above any real file's needs. */
const ISOLATED_LOAD: IsolatedLoadBounds = { deadlineMs: 10_000, heapMb: 256 };

// The checkout runs load-worker.ts as it is; the installed package runs the compiled load-worker.js.
const WORKER = new URL(`./load-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * Reads and validates the config at `path` as `loadConfigFile` does, off this thread.
 *
 * @example const next = await loadConfigIsolated('/etc/candor/candor.yaml'); // throws ConfigError
 */
export function loadConfigIsolated(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  bounds: IsolatedLoadBounds = ISOLATED_LOAD,
): Promise<GatewayConfig> {
  const refused = (message: string) =>
    new ConfigError([{ file: path, line: 0, column: 0, path: '', message }]);
  return new Promise((done, fail) => {
    const worker = new Worker(WORKER, {
      workerData: { path, env: { ...env } },
      resourceLimits: { maxOldGenerationSizeMb: bounds.heapMb },
    });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      void worker.terminate();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          fail(
            refused(
              `reading and validating ${resolve(path)} took longer than ${bounds.deadlineMs} ms: refused (a config is read in milliseconds)`,
            ),
          ),
        ),
      bounds.deadlineMs,
    );
    worker.once('message', (answer: LoadAnswer) =>
      settle(() => {
        if ('config' in answer) done(deepFreeze(answer.config as GatewayConfig));
        else if ('problems' in answer) fail(new ConfigError(answer.problems as ConfigProblem[]));
        else fail(new Error(`config loader: ${answer.error}`));
      }),
    );
    worker.once('error', (err: NodeJS.ErrnoException) =>
      settle(() =>
        fail(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? refused(
                `reading and validating ${resolve(path)} needed more than ${bounds.heapMb} MiB: refused (a config needs a few at most)`,
              )
            : err,
        ),
      ),
    );
    worker.once('exit', (code) =>
      settle(() => fail(new Error(`config loader: its thread ended (exit code ${code}) without an answer`))),
    );
  });
}
