/**
 * Starting a server pinned to one CPU, waiting until it accepts connections, and stopping it
 * (with its children) again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PinnedProcess {
  readonly pid: number;
  /** The process's stdout and stderr, as far as written to `outputFile`. */
  readonly outputFile: string;
  /** Set once the process has exited. */
  exit: string | undefined;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The CPU list (taskset -c); absent: not pinned. */
  readonly cpu?: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Where stdout and stderr go (appended). */
  readonly outputFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs `taskset -c CPU command args…` (or the command alone, without a CPU) in its own process
 * group; taskset execs the command, so the pid is the command's own.
 */
export function startPinned(options: StartOptions): PinnedProcess {
  const fd = openSync(options.outputFile, 'a');
  const [command, args] =
    options.cpu === undefined
      ? [options.command, options.args]
      : ['taskset', ['-c', options.cpu, options.command, ...options.args]];
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pinned: PinnedProcess = {
    pid: child.pid ?? -1,
    outputFile: options.outputFile,
    exit: undefined,
    async stop() {
      if (pinned.exit !== undefined) return;
      signalGroup(pinned.pid, 'SIGTERM');
      // Unref'd: a pending 5 s timer would otherwise hold the harness's exit back by 5 s.
      const timeout = sleep(5000, false, { ref: false });
      const done = await Promise.race([exited.then(() => true), timeout]);
      // Whatever of the group outlived the leader (e.g. an nginx worker) goes too.
      signalGroup(pinned.pid, 'SIGKILL');
      if (!done) await exited;
    },
  };
  child.once('exit', (code, signal) => {
    pinned.exit = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
  });
  child.once('error', (err) => {
    pinned.exit = `failed to start: ${err.message}`;
  });
  return pinned;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** The first error line, else the last lines of the process's output, for a "skipped: …" reason. */
export function tail(file: string, lines = 3): string {
  try {
    const all = readFileSync(file, 'utf8').trim().split('\n');
    const error = all.find((line) => /^\w*Error\b|^\[ALERT\]|\[emerg\]|Error:/.test(line));
    return (error ?? all.slice(-lines).join(' | ')).slice(0, 400);
  } catch {
    return '';
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves when `port` accepts a connection; throws if the process exits first or time runs out. */
export async function waitForPort(port: number, proc: PinnedProcess | undefined, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc?.exit !== undefined) {
      const output = tail(proc.outputFile);
      throw new Error(`${proc.exit}${output === '' ? '' : `: ${output}`}`);
    }
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`not listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/**
 * The CPUs this process may run on (a taskset -c list such as "0-1") and how many they are.
 * Read before the harness pins itself: the all-cores section hands this list to the proxies.
 */
export function allowedCpus(): { readonly list: string; readonly count: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? '0';
  let count = 0;
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    count += to - from + 1;
  }
  return { list, count };
}
