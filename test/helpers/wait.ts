import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Ports this process has handed out. */
const handedOut = new Set<number>();

/**
 * Where freePort draws from: below the kernel's ephemeral range (ip_local_port_range), which
 * every connect() and listen(0) of every process takes its ports from. A port from that range,
 * free a moment ago, may be the local end of another test process's connection by the time a
 * test listens on it (EADDRINUSE: CI saw it once); one below it is only ever taken by a bind
 * that names it.
 */
const FREE_PORTS = (() => {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the IANA dynamic range starts at 49152, and most systems use it.
    low = 49152;
  }
  // Above the ports services are usually given (Redis 6379, pebble 14000 and 15000, …).
  const from = 20000;
  return low - from >= 2000 ? { from, to: low } : undefined;
})();

/**
 * Ports claimed by the test processes running now, one file each. A test that names its port in
 * a config binds and frees it several times (a gateway started per case, pebble told the port
 * before the gateway listens): between two binds the port is free, and another test process
 * drawing at random found it free and listened on it (EADDRINUSE: CI saw it on the ACME fleet
 * test). A claim is the process's until it exits; one left by a process that died is taken over.
 */
const CLAIMS = join(tmpdir(), 'candor-test-ports');
const claimed: string[] = [];

function claim(port: number): boolean {
  const file = join(CLAIMS, String(port));
  try {
    mkdirSync(CLAIMS, { recursive: true });
    closeSync(openSync(file, 'wx'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true;
    if (alive(Number(readFileSync(file, 'utf8') || 0))) return false;
  }
  writeFileSync(file, String(process.pid));
  if (claimed.length === 0) process.once('exit', releaseClaims);
  claimed.push(file);
  return true;
}

function alive(pid: number): boolean {
  if (!(pid > 0)) return true; // a claim being written this moment
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseClaims(): void {
  for (const file of claimed) {
    try {
      unlinkSync(file);
    } catch {
      // Gone already.
    }
  }
}

async function listens(port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise((resolve) => server.close(resolve));
  return ok;
}

/**
 * A loopback port free a moment ago (for a config that must name its port before it starts, or
 * an upstream that comes back on its port), never one this process has handed out before: two
 * calls in a row could get the same port (a test's "stable" and "next" upstreams became one
 * server, and a request answered by the one was logged as the other's). Drawn below the
 * ephemeral range (FREE_PORTS), so no other process's connection takes it meanwhile, and claimed
 * (CLAIMS), so no other test process is handed it while this one is between two binds.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    let port: number;
    if (FREE_PORTS === undefined) {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as net.AddressInfo).port;
      await new Promise((resolve) => server.close(resolve));
    } else {
      port = FREE_PORTS.from + Math.floor(Math.random() * (FREE_PORTS.to - FREE_PORTS.from));
      if (handedOut.has(port) || !claim(port) || !(await listens(port))) continue;
    }
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no loopback port this process has not handed out already, in 100 tries');
}

/**
 * Resolves once `condition()` holds; throws naming `what` after `timeoutMs`. The default bounds a
 * wait for what comes in well under a second on a quiet machine: 15 s, as a loaded one (the
 * suite six files at a time beside other jobs) took over 5 s to start a process and import a
 * plugin, to answer 40 readers, to fail two starts of a replacement worker, each a red run.
 */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`still not ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Lets a gateway's short window of its own run out (a JWKS `jwks_min_refresh` of 1 ms, within
 * which a failure or the keys at hand stand for every request): a loopback round trip on a fast
 * machine takes less, so the next request would still be inside it. Waits only for time to pass
 * (20 ms, past any such window a test sets), never for something to happen.
 */
export function pastShortWindow(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

/** Whether something listens on loopback `port` now: a connect that succeeds (closed at once). */
export function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
