/**
 * `candor serve` as a real process tree (a primary and its workers) logging to a file, for
 * tests that send it real signals.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

export type LogLine = Record<string, unknown> & { msg: string };

export interface CandorProcess {
  readonly primary: ChildProcess;
  readonly port: number;
  /** The configured log file. */
  readonly logPath: string;
  readonly dir: string;
  /** Worker process ids (read from /proc). */
  workers(): number[];
  /** Every line in the log file (or another file, e.g. a rotated one) so far. */
  lines(file?: string): LogLine[];
  /** Waits for a log line (in the current file) that `find` accepts. */
  waitForLine(find: (line: LogLine) => boolean, what: string, waitMs?: number): Promise<LogLine>;
  /** The primary's exit, with the time it came (performance.now()). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr(): string;
  /** Kills whatever is left (SIGKILL), removes the folder. */
  cleanup(): Promise<void>;
}

/** Starts `candor serve --workers N` on a config body (without listen and log), waits until every worker listens. */
export async function startCandor(body: string, workers = 1, listen = '127.0.0.1:0'): Promise<CandorProcess> {
  const dir = tempDir('candor-drain-');
  const logPath = join(dir, 'access.log');
  const configPath = join(dir, 'candor.yaml');
  writeFileSync(
    configPath,
    `name: drain-edge\nlisten:\n  - address: ${listen}\nlog:\n  destination: ${logPath}\n${body}`,
  );
  const primary = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', String(workers), '--config', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  primary.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    primary.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const lines = (file = logPath): LogLine[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as LogLine)
      : [];
  const waitForLine = async (find: (line: LogLine) => boolean, what: string, waitMs = 10_000) => {
    const until = performance.now() + waitMs;
    for (;;) {
      const found = lines().find(find);
      if (found) return found;
      if (performance.now() > until)
        throw new Error(
          `no log line for ${what} after ${waitMs} ms; log: ${JSON.stringify(lines())}; stderr: ${stderr}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const workerPids = () => {
    try {
      return readFileSync(`/proc/${primary.pid}/task/${primary.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  const cleanup = async () => {
    const pids = workerPids();
    primary.kill('SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A bound, not a timing (the one startServe has): the primary and each worker load the
    // gateway's modules, some 0.2 s and 0.5 s of CPU, which a loaded machine hands out slowly:
    // `--workers 2` listened after 4-6 s beside three busy loops on two cores, 12 s beside ten (the
    // workers runnable all along, 0.3 s of CPU each in the first 10 s), and a loaded suite run took
    // past the 10 s this was. Past the bound, each process's state and CPU time tell a start that
    // was slow (runnable, its CPU time growing) from one that was stuck.
    const waitMs = 30_000;
    await Promise.race([
      (async () => {
        const until = performance.now() + waitMs;
        while (lines().filter((l) => l.msg === 'listening').length < workers) {
          if (performance.now() > until) {
            const listened = lines().filter((l) => l.msg === 'listening').length;
            throw new Error(
              `candor did not listen: ${listened} of ${workers} workers after ${waitMs} ms; processes: ${[primary.pid ?? 0, ...workerPids()].map(processState).join(', ')}; log: ${JSON.stringify(lines())}; stderr: ${stderr}`,
            );
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      exited.then(({ code }) => {
        throw new Error(`candor exited ${code} before listening: ${stderr}`);
      }),
    ]);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const listening = lines().find((l) => l.msg === 'listening');
  const port = Number(/:(\d+)$/.exec(String(listening?.address))?.[1]);
  return {
    primary,
    port,
    logPath,
    dir,
    workers: workerPids,
    lines,
    waitForLine,
    exited,
    stderr: () => stderr,
    cleanup,
  };
}

/** A process as /proc/PID/stat says: its state (R runnable, S sleeping, T stopped…) and CPU time. */
function processState(pid: number): string {
  try {
    // After the command's closing parenthesis: state, then utime and stime at the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return `${pid} ${fields[0]} ${(Number(fields[11]) + Number(fields[12])) * 10} ms of CPU`;
  } catch {
    return `${pid} gone`;
  }
}

/** Whether a TCP connection to 127.0.0.1:port is refused (true) or accepted (false). */
export function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNREFUSED' ? resolve(true) : reject(err),
    );
  });
}

/** Polls until a connection to the port is refused; the time it took, or rejects after `waitMs`. */
export async function untilRefused(port: number, waitMs: number): Promise<number> {
  const started = performance.now();
  while (!(await connectRefused(port))) {
    if (performance.now() - started > waitMs)
      throw new Error(`port ${port} still accepting after ${waitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - started;
}
