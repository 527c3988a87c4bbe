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
    await Promise.race([
      (async () => {
        const until = performance.now() + 10_000;
        while (lines().filter((l) => l.msg === 'listening').length < workers) {
          if (performance.now() > until) throw new Error(`candor did not listen; stderr: ${stderr}`);
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
