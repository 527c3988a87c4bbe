import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { tempDir } from './temp-dir.ts';

const BIN = join(import.meta.dirname, '../../bin/candor.js');

/** `candor serve --workers N --config FILE` as a real child process, its log lines parsed as they come. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** The main listener's port (the first one logged). */
  readonly port: number;
  /** The admin listener's port, when the config has one. */
  readonly adminPort: number | undefined;
  readonly lines: Record<string, unknown>[];
  /** Resolves when `count` lines with this msg have been logged in all (`ms`, 5 s by default, at most). */
  waitForLines(msg: string, count: number, ms?: number): Promise<void>;
  stderr(): string;
  stop(): Promise<number | null>;
}

/**
 * The gateways started here that still run: killed when the test file's process exits. A test past
 * its timeout never reaches its `finally`, and with `--test-force-exit` its gateway ran on for good,
 * its parent gone (one from a reload test, found an hour after its run).
 */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A `candor` child a test spawned itself (a start it watches, a signal it sends), killed with the
 * others still running when the test file's process exits: a test past its timeout never reaches
 * the `finally` that stops it.
 */
export function killAtExit<T extends ChildProcess>(child: T): T {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export async function startServe(
  config: string,
  workers: number,
  /**
   * `prefix`: a command that execs the gateway with its arguments (`prlimit --nofile=64:64`).
   * `listenMs`: the bound on its workers' listening (30 s by default); a start that cannot use its
   * compile cache compiles every module afresh, about three times a warm start's CPU.
   */
  options: { admin?: boolean; env?: NodeJS.ProcessEnv; prefix?: readonly string[]; listenMs?: number } = {},
): Promise<ServeProcess> {
  const stateHome = tempDir('candor-state-');
  const argv = [process.execPath, BIN, 'serve', '--workers', String(workers), '--config', config];
  const [command, ...args] = [...(options.prefix ?? []), ...argv];
  const child = spawn(command as string, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its state folder (state_dir's default) its own: never the user's, nor another test's.
    env: { ...process.env, XDG_STATE_HOME: stateHome, ...options.env },
  });
  running.add(child);
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) if (part) lines.push(JSON.parse(part));
    for (const waiter of waiters) waiter();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // Its output all read: no line comes after this, so a wait for more ends at once.
  let closed = false;
  const waitForLines = (msg: string, count: number, ms = 5000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        const enough = lines.filter((l) => l.msg === msg).length >= count;
        if (!enough && !closed) return;
        waiters.delete(check);
        clearTimeout(timer);
        if (enough) resolve();
        else
          reject(
            new Error(
              `serve exited (${child.exitCode ?? child.signalCode}) with fewer than ${count} "${msg}" lines; stderr: ${stderr}; lines: ${JSON.stringify(lines.slice(-5))}`,
            ),
          );
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `fewer than ${count} "${msg}" lines after ${ms} ms; stderr: ${stderr}; lines: ${JSON.stringify(lines.slice(-5))}`,
          ),
        );
      }, ms);
      waiters.add(check);
      check();
    });
  child.once('exit', () => {
    running.delete(child);
    rmSync(stateHome, { recursive: true, force: true });
  });
  child.once('close', () => {
    closed = true;
    for (const waiter of waiters) waiter();
  });
  try {
    // Bounds, not timings: a loaded run (four test files on two cores) has seen a second worker
    // listen more than 15 s after the first.
    await waitForLines('listening', workers, options.listenMs ?? 30_000);
    if (options.admin) await waitForLines('admin API listening', 1, options.listenMs ?? 30_000);
  } catch (err) {
    // A serve that did not start in time is not left running: its pipes would hold the test
    // file's process (and the whole run) open after the failure.
    child.kill('SIGKILL');
    throw err;
  }
  const port = Number(
    String(lines.find((l) => l.msg === 'listening')?.address)
      .split(':')
      .at(-1),
  );
  const admin = lines.find((l) => l.msg === 'admin API listening')?.admin;
  return {
    child,
    port,
    adminPort: admin === undefined ? undefined : Number(String(admin).split(':').at(-1)),
    lines,
    waitForLines,
    stderr: () => stderr,
    stop: () =>
      new Promise((resolve) => {
        // Ended already (a test killed it): its 'exit' came and will not come again.
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/** A JSON call to the admin API: status, content type and parsed body. */
export function adminCall(
  port: number,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; host?: string } = {},
): Promise<{ status: number; type: string | undefined; body: Record<string, unknown>; text: string }> {
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method,
      path,
      agent: false,
      headers: {
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.host === undefined ? {} : { host: options.host }),
        // node:http frames no body of a DELETE by itself: it would go unframed.
        ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'],
          body: JSON.parse(text),
          text,
        });
      });
    });
    req.end(body);
  });
}

/** The pids of a process's children (Linux's /proc): a `candor serve`'s workers, and its config reader while one runs. */
export function childPids(pid: number | undefined): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

/**
 * Signals each of a gateway's processes. One may have ended since its pid was read (the process
 * that reads a config lives only while it reads: a fleet change starts one), and a signal to it
 * fails with ESRCH, which threw out of the test before its SIGCONTs were sent.
 */
export function signalEach(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/**
 * The process a reload of `serve` (one worker) starts to read its file, stopped (SIGSTOP) as
 * soon as it runs the reader, before it can answer: call it right after asking for the reload.
 * Not before its exec: the primary's fork waits for that, and would wait for ever.
 */
export async function stopConfigReader(serve: ServeProcess): Promise<number> {
  const [worker] = childPids(serve.child.pid);
  const runsReader = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('load-worker');
    } catch {
      return false;
    }
  };
  for (let tries = 0; tries < 5000; tries++) {
    const reader = childPids(serve.child.pid).find((pid) => pid !== worker && runsReader(pid));
    if (reader !== undefined) {
      process.kill(reader, 'SIGSTOP');
      return reader;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('no process read the config');
}

/**
 * The folder the workers of `serve` share their routes' stored answers in (the primary's, told to
 * each worker it forks: proxy/cache/workers-store.ts), as a worker's environment says it.
 */
export function workersCacheDir(serve: ServeProcess): string {
  const [worker] = childPids(serve.child.pid);
  const env = readFileSync(`/proc/${worker}/environ`, 'latin1').split('\0');
  const entry = env.find((e) => e.startsWith('CANDOR_WORKERS_CACHE='));
  if (entry === undefined) throw new Error(`worker ${worker} was told of no shared cache folder`);
  return entry.slice('CANDOR_WORKERS_CACHE='.length);
}

/** The stored answers' files in a route's subfolder of a cache folder (disk-store.ts's names). */
export function storedFiles(dir: string, route: string): string[] {
  try {
    return readdirSync(join(dir, route)).filter((name) => /^[0-9a-f]{64}$/.test(name));
  } catch {
    return [];
  }
}
