/**
 * For the resource tests: a real gateway as `candor serve --workers 1` (the supervising
 * primary and one worker, started exactly as in production, with the worker's V8 flags), the
 * worker's resident memory read from /proc, and raw loopback upstreams that write whatever
 * bytes a case needs, as fast as TCP lets them.
 *
 * Why /proc and not process.memoryUsage() over IPC: the number is read from outside, so it
 * needs no code in the gateway and no cooperation from a worker whose event loop may be
 * saturated by the very flood being measured; and VmHWM, once reset through clear_refs, is the
 * kernel's exact peak, including a spike between two samples.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { killAtExit } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../bin/candor.js');

export const MiB = 1024 * 1024;

export type LogLine = Record<string, unknown> & { msg: string };

export interface WorkerGateway {
  readonly port: number;
  readonly workerPid: number;
  /** Every log line the worker wrote so far, parsed. */
  readonly lines: LogLine[];
  /** What the worker (and primary) wrote to stderr: Node's warnings, e.g. MaxListenersExceededWarning. */
  stderr(): string;
  /** The nth access-log line (1-based, counting only requests to `/` — the warm-up's are skipped). */
  accessLine(n?: number, waitMs?: number): Promise<LogLine>;
  /** Sends `count` ordinary requests through the gateway, so the baseline is that of a worker that has served. */
  warmUp(count?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts `candor serve --workers 1` on 127.0.0.1:0 from `upstreams` YAML (the `app` upstream,
 * routed at `/`); a `warm` upstream (a well-behaved echo server) is routed at `/warm`.
 */
/** `extra`: top-level config sections added as they are (e.g. `limits`). */
export async function startWorkerGateway(appUpstream: string, extra = ''): Promise<WorkerGateway> {
  const echo = await startEcho();
  const dir = tempDir('candor-resource-');
  const configPath = join(dir, 'candor.yaml');
  writeFileSync(
    configPath,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
log: { level: info, destination: stdout }
${extra}routes:
  - match: { path: /warm }
    upstream: warm
  - match: { path: / }
    upstream: app
upstreams:
  warm:
    targets:
      - url: ${echo.url}
  app:
${appUpstream.replace(/^/gm, '    ')}
`,
  );
  const primary: ChildProcess = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', '1', '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  let stderr = '';
  primary.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line) lines.push(JSON.parse(line));
    for (const waiter of waiters) waiter();
  });
  primary.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => primary.once('exit', () => resolve()));
  let workerPid = 0;
  const close = async () => {
    // SIGKILL, both: a drain would wait on the very exchanges a case leaves stuck. The primary
    // first, or it would start another worker.
    primary.kill('SIGKILL');
    if (workerPid) {
      try {
        process.kill(workerPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  };

  const waitFor = (find: () => LogLine | undefined, what: string, waitMs: number): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no log line for ${what} after ${waitMs} ms; lines: ${JSON.stringify(lines)}`));
      }, waitMs);
      waiters.add(check);
      check();
    });

  try {
    const listening = await Promise.race([
      waitFor(() => lines.find((l) => l.msg === 'listening'), 'listening', 15_000),
      exited.then(() => {
        throw new Error(`candor serve exited before listening: ${stderr}`);
      }),
    ]);
    const port = Number(/:(\d+)$/.exec(String(listening.address))?.[1]);
    const children = readFileSync(`/proc/${primary.pid}/task/${primary.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/);
    if (children.length !== 1) throw new Error(`expected one worker under the primary, found ${children}`);
    workerPid = Number(children[0]);
    const base = `http://127.0.0.1:${port}`;
    return {
      port,
      workerPid,
      lines,
      stderr: () => stderr,
      accessLine: (n = 1, waitMs = 5000) =>
        waitFor(
          () => lines.filter((l) => l.msg === 'request' && l.upstream === 'app')[n - 1],
          `access line #${n} of the app upstream`,
          waitMs,
        ),
      async warmUp(count = 20) {
        for (let i = 0; i < count; i++) {
          const res = await fetch(`${base}/warm/${i}`, { headers: { connection: 'close' } });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`warm-up request answered ${res.status}`);
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// ── memory ─────────────────────────────────────────────────────────────────────────

export interface RssReport {
  /** VmRSS when the measurement began (after the warm-up). */
  readonly baselineKiB: number;
  /** The highest resident size seen: VmHWM since the reset where the kernel allows it, and every sample. */
  readonly peakKiB: number;
  readonly growthKiB: number;
  /** "VmHWM" when the kernel's peak could be reset, else "VmRSS samples". */
  readonly method: string;
  /** CPU time the worker used during the measurement, in ms (a diagnostic, never asserted). */
  readonly cpuMs: number;
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // the process is gone
  }
}

/**
 * Starts measuring `pid`'s resident memory: resets its VmHWM (writing 5 to clear_refs, Linux
 * ≥ 4.0, allowed to the process's owner) and samples VmRSS every 10 ms as well, so the report
 * holds even where the reset is refused.
 */
export function meterRss(pid: number): { stop(): RssReport } {
  const baselineKiB = statusField(pid, 'VmRSS');
  if (baselineKiB === undefined) throw new Error(`no /proc/${pid}/status`);
  let hwm = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    hwm = true;
  } catch {
    // sampling only
  }
  const cpuAtStart = cpuMs(pid);
  let sampled = baselineKiB;
  const sample = () => {
    const rss = statusField(pid, 'VmRSS');
    if (rss !== undefined && rss > sampled) sampled = rss;
  };
  const timer = setInterval(sample, 10);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const peakKiB = Math.max(sampled, hwm ? (statusField(pid, 'VmHWM') ?? 0) : 0);
      return {
        baselineKiB,
        peakKiB,
        growthKiB: peakKiB - baselineKiB,
        method: hwm ? 'VmHWM' : 'VmRSS samples',
        cpuMs: cpuMs(pid) - cpuAtStart,
      };
    },
  };
}

/** CPU time (user + system) the process has used so far, in ms (USER_HZ is 100 on Linux). */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

export const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

// ── raw upstreams ──────────────────────────────────────────────────────────────────

export interface UpstreamConnection {
  readonly socket: net.Socket;
  /** When the request head arrived (performance.now()). */
  readonly requestAt: number;
  /** Bytes handed to the socket so far. */
  sent: number;
  /** Resolves with performance.now() when the connection closed (by the gateway, or by the script). */
  readonly closed: Promise<number>;
  isClosed(): boolean;
}

export interface RawUpstream {
  readonly url: string;
  readonly connections: UpstreamConnection[];
  /** Resolves with the first connection once its request head arrived. */
  firstConnection(): Promise<UpstreamConnection>;
  close(): Promise<void>;
}

/** A loopback server that waits for each request head, then runs `script` (the request is a GET: no body). */
export async function startRawUpstream(
  script: (connection: UpstreamConnection) => Promise<void> | void,
): Promise<RawUpstream> {
  const connections: UpstreamConnection[] = [];
  const sockets = new Set<net.Socket>();
  let onFirst: (c: UpstreamConnection) => void = () => {};
  const first = new Promise<UpstreamConnection>((resolve) => {
    onFirst = resolve;
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let closedAt = 0;
    const closed = new Promise<number>((resolve) =>
      socket.once('close', () => {
        closedAt = performance.now();
        sockets.delete(socket);
        resolve(closedAt);
      }),
    );
    socket.on('error', () => {}); // the gateway hanging up mid-write is part of every case
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.resume(); // keep reading (and discarding) so a FIN from the gateway is seen
      const connection: UpstreamConnection = {
        socket,
        requestAt: performance.now(),
        sent: 0,
        closed,
        isClosed: () => closedAt !== 0,
      };
      connections.push(connection);
      if (connections.length === 1) onFirst(connection);
      Promise.resolve()
        .then(() => script(connection))
        .catch(() => socket.destroy());
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    firstConnection: () => first,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Resolves once the socket can take more (true), or when it closed (false). */
export function drained(socket: net.Socket): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

/**
 * Writes `batch` again and again, as fast as the peer takes it (waiting for drain, never
 * queueing in this process), until `stop()` says so or the connection closes. Returns whether
 * the connection is still open.
 */
export async function pump(
  connection: UpstreamConnection,
  batch: Buffer,
  stop: () => boolean,
): Promise<boolean> {
  const { socket } = connection;
  while (!stop()) {
    if (socket.destroyed || connection.isClosed()) return false;
    connection.sent += batch.length;
    if (!socket.write(batch) && !(await drained(socket))) return false;
  }
  return !socket.destroyed;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
