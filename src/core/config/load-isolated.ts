/**
 * Loading a config beside a running gateway: the file is read and validated in a short-lived
 * process of its own, with a deadline and a heap of its own, so that a file that is slow or
 * huge to read (or a YAML construct the bounds of yaml-source.ts did not foresee) costs a
 * refused load, never a stalled event loop in the process that runs the admin API and signals,
 * nor its memory. A process rather than a thread: the YAML reader and the schema are about
 * 24 MB once loaded, and a thread's memory stays with the process after the thread ends,
 * while a process gives it all back. So the supervising primary never holds them at all.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { getCompileCacheDir } from 'node:module';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descriptorAdvice } from '../failure/out-of-descriptors.ts';
import { type AddressTaken, addressTakenMessage } from '../net/address-probe.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { knownHash } from './config-hash.ts';
import { fieldPosition, keepFieldLines } from './field-lines.ts';
import { deepFreeze } from './freeze.ts';
import type { LoadAnswer, LoadAsk, TakenListener } from './load-worker.ts';
import { withoutInspectorSignal } from './no-inspector-signal.ts';
import type { GatewayConfig } from './types.ts';

export interface IsolatedLoadBounds {
  /**
   * The CPU time reading and validating may take before the process is stopped and the load
   * refused (its wall time where the system tells no process's CPU time: no Linux /proc).
   */
  readonly deadlineMs: number;
  /** The process's heap, in MiB: a file that needs more is refused. */
  readonly heapMb: number;
  /**
   * The wall time it may take whatever CPU it was given (a machine too busy to give it any, a
   * stopped process); by default WALL_TIMES × `deadlineMs`.
   */
  readonly wallMs?: number;
}

/**
 * A config is a few thousand values read in milliseconds: these are far above any real file's
 * needs. The deadline is of CPU time: a loaded gateway, whose workers keep every core busy, is
 * where a reload is asked for, and a file of 2,000 routes, 1.3 s of CPU, took 10 s of wall time
 * on two cores beside three busy loops: refused by a wall-time deadline, it is not now.
 */
const ISOLATED_LOAD: IsolatedLoadBounds = { deadlineMs: 10_000, heapMb: 256, wallMs: 25_000 };
/**
 * The wall time a load may take, as a multiple of its CPU deadline, where its bounds say none
 * (the default's 25 s is within the 30 s `candor reload` waits for the admin API's answer).
 */
const WALL_TIMES = 2.5;

// The checkout runs load-worker.ts as it is; the installed package runs the compiled load-worker.js.
const WORKER = fileURLToPath(
  new URL(`./load-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** What the loader wrote on stderr, kept for the error of a load that ended without an answer. */
const STDERR_KEPT = 4096;

/**
 * Reads and validates the config at `path` as `loadConfigFile` does, in another process.
 *
 * @example const next = await loadConfigIsolated('/etc/candor/candor.yaml'); // throws ConfigError
 */
export async function loadConfigIsolated(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  bounds: IsolatedLoadBounds = ISOLATED_LOAD,
): Promise<GatewayConfig> {
  return (await loadIsolated(path, env, bounds, undefined)).config;
}

/** A config, the listeners another process holds, and whether it holds the admin listener's address. */
export interface ProbedLoad {
  readonly config: GatewayConfig;
  readonly taken: readonly TakenListener[];
  readonly adminTaken?: AddressTaken;
}

/**
 * Each address of the loaded config another process holds, as a problem at its field (file, line,
 * `listen[0].address` or `admin.listen`): what serve says before starting and a reload refuses.
 */
export function takenProblems({ config, taken, adminTaken }: ProbedLoad): ConfigProblem[] {
  return [
    ...taken.map(({ index, taken }) => ({ path: `listen[${index}].address`, taken })),
    ...(adminTaken === undefined ? [] : [{ path: 'admin.listen', taken: adminTaken }]),
  ].map(({ path, taken }) => ({
    file: config.source,
    ...fieldPosition(config, path),
    path,
    message: addressTakenMessage(taken),
  }));
}

/**
 * A load given up because its caller's `stop` signal fired (a drain began during a reload):
 * the process reading the file is killed, nothing of it is used.
 */
export class LoadStopped extends Error {
  constructor(path: string) {
    super(`the reading of ${resolve(path)} was stopped before it ended`);
    this.name = 'LoadStopped';
  }
}

/**
 * The process that reads the file could not be started at all (EMFILE, ENFILE: no descriptor
 * left for its pipes; EAGAIN, ENOMEM: no process): said so, with what to do of a descriptor's want.
 */
export class LoaderNotStarted extends Error {
  readonly code: string | undefined;
  constructor(path: string, cause: NodeJS.ErrnoException) {
    super(
      `could not start the process that reads ${resolve(path)}: ${cause.code ?? cause.message}${descriptorAdvice(cause.code)}`,
    );
    this.name = 'LoaderNotStarted';
    this.code = cause.code;
  }
}

/**
 * As loadConfigIsolated, and the same process probes whether each listener's address can be
 * had (address-probe.ts), but those in `held` (listener keys the running gateway holds, as
 * reload-plan.ts's listenerKey): the listeners another process holds come back with the config,
 * and the admin listener's address when another process holds it (`held` may name the running one).
 * `stop` gives the load up at once (rejecting with LoadStopped): a gateway that began its drain
 * is not held past its deadline by a reload's read, which its deadline does not bound.
 */
export function loadConfigAndProbe(
  path: string,
  held: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  bounds: IsolatedLoadBounds = ISOLATED_LOAD,
  stop?: AbortSignal,
): Promise<ProbedLoad> {
  return loadIsolated(path, env, bounds, held, stop);
}

function loadIsolated(
  path: string,
  env: NodeJS.ProcessEnv,
  bounds: IsolatedLoadBounds,
  probeAllBut: readonly string[] | undefined,
  stop?: AbortSignal,
): Promise<ProbedLoad> {
  if (stop?.aborted) return Promise.reject(new LoadStopped(path));
  const refused = (message: string) =>
    new ConfigError([{ file: path, line: 0, column: 0, path: '', message }]);
  return new Promise((done, fail) => {
    const { loader, stderr } = forkLoader(bounds.heapMb);
    let settled = false;
    const onStop = () => settle(() => fail(new LoadStopped(path)));
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
      outcome();
      if (loader.exitCode === null && loader.signalCode === null) loader.kill('SIGKILL');
    };
    // process.uptime, not performance.now: the primary loads no perf_hooks (lean-processes.test.ts).
    const started = process.uptime() * 1000;
    const wallMs = bounds.wallMs ?? WALL_TIMES * bounds.deadlineMs;
    // Looked at when the CPU it was given could have reached the deadline, and again until it did.
    const look = () => {
      const over = overrun(
        bounds.deadlineMs,
        wallMs,
        cpuTimeMs(loader.pid),
        process.uptime() * 1000 - started,
      );
      if (typeof over === 'number') timer = setTimeout(look, over);
      else
        settle(() =>
          fail(
            refused(
              `reading and validating ${resolve(path)} ${over}: refused (a config is read in milliseconds)`,
            ),
          ),
        );
    };
    let timer = setTimeout(look, Math.min(bounds.deadlineMs, wallMs));
    loader.once('message', (answer: LoadAnswer) =>
      settle(() => {
        const load = probedLoadOf(answer);
        if (load instanceof Error) fail(load);
        else done(load);
      }),
    );
    // No pid: it never started (fork failed EMFILE), and its 'error' is all there is.
    loader.once('error', (err) =>
      settle(() => fail(loader.pid === undefined ? new LoaderNotStarted(path, err) : err)),
    );
    loader.once('exit', (code, signal) =>
      settle(() =>
        fail(
          // V8 aborts a process whose heap is full, saying so on stderr.
          /heap out of memory|Reached heap limit/.test(stderr())
            ? refused(
                `reading and validating ${resolve(path)} needed more than ${bounds.heapMb} MiB: refused (a config needs a few at most)`,
              )
            : new Error(
                `config loader: its process ended (${signal ?? `exit code ${code}`}) without an answer${stderr() === '' ? '' : `: ${stderr().trim()}`}`,
              ),
        ),
      ),
    );
    stop?.addEventListener('abort', onStop, { once: true });
    const ask: LoadAsk = { path, env: { ...env }, ...(probeAllBut === undefined ? {} : { probeAllBut }) };
    // A send that fails (EPIPE: the process died first, OOM-killed) is told to this callback,
    // not as 'error': the 'exit' that follows says why, which 'write EPIPE' would not.
    // Not started at all (EMFILE, EAGAIN: no descriptor for its pipes, no process): node:child_process
    // leaves it without an IPC channel, so no send, and tells why in the 'error' above.
    if (loader.connected) loader.send(ask, () => {});
  });
}

/** The least wait before the loader's CPU time is looked at again. */
const LOOK_AGAIN_MS = 50;

/**
 * What a load that ran `wallMs` and was given `cpuMs` of CPU (undefined: not known) passed of
 * its bounds, or, within them, how long to wait before looking again.
 */
function overrun(
  deadlineMs: number,
  wallLimitMs: number,
  cpuMs: number | undefined,
  wallMs: number,
): string | number {
  if (cpuMs === undefined) return `took longer than ${deadlineMs} ms`;
  if (cpuMs >= deadlineMs) return `took more than ${deadlineMs} ms of CPU`;
  if (wallMs >= wallLimitMs)
    return `took longer than ${Math.round(wallLimitMs)} ms, given ${Math.round(cpuMs)} ms of CPU (a busy machine, or a stopped process)`;
  return Math.max(LOOK_AGAIN_MS, Math.min(deadlineMs - cpuMs, wallLimitMs - wallMs));
}

/**
 * The CPU time, in ms, the process `pid` has run (/proc/PID/schedstat's first field, ns on a
 * CPU); undefined where the system does not tell it, or the process is gone. node:fs taken as
 * the primary takes it (cluster-reloads.ts): an import of it would load fs/promises too.
 */
function cpuTimeMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const ns = Number(
      process.getBuiltinModule('node:fs').readFileSync(`/proc/${pid}/schedstat`, 'latin1').split(' ', 1)[0],
    );
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** The loader process, its heap bounded to `heapMb`, and the end of what it wrote to stderr. */
function forkLoader(heapMb: number): { loader: ChildProcess; stderr: () => string } {
  // The compile cache this process uses (bin/candor.js turns it on): the loader starts warm.
  const cache = getCompileCacheDir?.();
  const loader = fork(WORKER, [], {
    // (A SIGUSR1 sent to the process group during a reload reaches it too.)
    execArgv: withoutInspectorSignal([`--max-old-space-size=${heapMb}`]),
    env: cache === undefined ? process.env : { ...process.env, NODE_COMPILE_CACHE: cache },
    // Structured clone, as between threads: the config's values come back as they were made.
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  loader.stderr?.setEncoding('utf8');
  loader.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEPT);
  });
  return { loader, stderr: () => stderr };
}

/** The loader's answer: the config, frozen, with its hash and field lines known again; or why there is none. */
function probedLoadOf(answer: LoadAnswer): ProbedLoad | Error {
  if ('config' in answer) {
    const config = deepFreeze(answer.config as GatewayConfig);
    knownHash(config, answer.hash);
    keepFieldLines(config, answer.lines);
    return {
      config,
      taken: answer.taken,
      ...(answer.adminTaken === undefined ? {} : { adminTaken: answer.adminTaken }),
    };
  }
  if ('problems' in answer) return new ConfigError(answer.problems as ConfigProblem[]);
  return new Error(`config loader: ${answer.error}`);
}
