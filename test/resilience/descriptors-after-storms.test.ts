/**
 * A real `candor serve --workers 1` after storms of clients and upstreams that misbehave: clients
 * that reset mid-head, mid-body and mid-answer, or pause and leave, upstreams that hang
 * past `timeouts.response` (504), send an SSH banner (502) or reset mid-body, WebSocket tunnels
 * left for `tunnel_idle`, HTTP/2 clients that vanish mid-stream. Once the work is over, the
 * worker holds the descriptors it held before (counted in /proc/PID/fd, settled by a bounded
 * poll): none for a socket, a file or a pooled connection of work that ended. Counted,
 * never timed. It held when written (50 of each); a regression shows as a count that grows.
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startSshBanner } from '../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startResetMidBody } from '../../src/kits/fault-kit/reset-faults.ts';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { request } from '../helpers/http-client.ts';
import { childPids, type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const EACH = 50;
const UPGRADE =
  'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** The process's descriptors: how many, and what each non-socket one is. */
function descriptors(pid: number): { total: number; files: string[] } {
  const files: string[] = [];
  const names = readdirSync(`/proc/${pid}/fd`);
  for (const name of names) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${name}`);
      if (!link.startsWith('socket:')) files.push(link);
    } catch {
      // closed meanwhile
    }
  }
  return { total: names.length, files };
}

/** The count once it is back at `at` or below, or the last one seen after a bounded number of looks. */
async function settled(pid: number, at: number): Promise<{ total: number; files: string[] }> {
  let now = descriptors(pid);
  for (let looks = 0; looks < 400 && now.total > at; looks++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    now = descriptors(pid);
  }
  return now;
}

/** A raw client: writes `head`, then `then(socket)`; resolves once its socket closed. */
function raw(port: number, head: string, then: (socket: net.Socket) => void): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(head);
      then(socket);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

/** An h2c client that opens a stream and destroys its socket once the answer's head came. */
function h2Vanish(url: string): Promise<void> {
  return new Promise((resolve) => {
    const session = http2.connect(url);
    session.on('error', () => {});
    const stream = session.request({ ':path': '/app?bytes=1000000' });
    stream.on('error', () => {});
    stream.on('response', () => session.socket.destroy());
    session.on('close', () => resolve());
  });
}

/** `count` runs of `run`, ten at a time. */
async function storm(count: number, run: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < count; i += 10)
    await Promise.all(Array.from({ length: 10 }, () => run().catch(() => {})));
}

test('after storms of failing clients and upstreams the worker holds no descriptor more than before', async () => {
  const faults: Fault[] = [];
  const dir = tempDir('candor-descriptor-storms-');
  let serve: ServeProcess | undefined;
  try {
    const [app, hole, ssh, cut] = await Promise.all([
      startEcho(),
      startBlackhole(),
      startSshBanner(),
      startResetMidBody({ contentLength: 100_000, sentBytes: 1000 }),
    ]);
    faults.push(app, hole, ssh, cut);
    writeFileSync(
      join(dir, 'candor.yaml'),
      `listen:
  - address: 127.0.0.1:0
    http2: true
log: { level: info, destination: stdout }
limits: { spool_dir: ${join(dir, 'spool')} }
routes:
  - { name: app, match: { path: /app }, upstream: app }
  - { name: ws, match: { path: /ws }, upstream: app, timeouts: { tunnel_idle: 50ms } }
  - { name: hole, match: { path: /hole }, upstream: hole, timeouts: { response: 50ms } }
  - { name: ssh, match: { path: /ssh }, upstream: ssh }
  - { name: cut, match: { path: /cut }, upstream: cut }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  hole: { targets: [{ url: ${hole.url} }], circuit_breaker: { consecutive_failures: 0 } }
  ssh: { targets: [{ url: ${ssh.url} }], circuit_breaker: { consecutive_failures: 0 } }
  cut: { targets: [{ url: ${cut.url} }], circuit_breaker: { consecutive_failures: 0 } }
`,
    );
    serve = await startServe(join(dir, 'candor.yaml'), 1);
    const { port } = serve;
    const url = `http://127.0.0.1:${port}`;
    const [worker] = childPids(serve.child.pid);
    // A worker that has served: its pools and lazily opened handles are there before the count.
    for (let i = 0; i < 10; i++) assert.equal((await request(url, { path: '/app' })).status, 200);
    const before = descriptors(worker);

    const storms: Array<[string, () => Promise<unknown>]> = [
      [
        'clients reset mid-head',
        () => raw(port, 'GET /app HTTP/1.1\r\nHost: x\r\nX-A: ', (s) => s.resetAndDestroy()),
      ],
      [
        'clients reset mid-body',
        () =>
          raw(
            port,
            `POST /app HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(5000)}`,
            (s) => s.resetAndDestroy(),
          ),
      ],
      [
        'clients reset mid-answer',
        () =>
          raw(port, 'GET /app?bytes=1000000 HTTP/1.1\r\nHost: x\r\n\r\n', (s) =>
            s.once('data', () => s.resetAndDestroy()),
          ),
      ],
      [
        'readers that pause, then leave',
        () =>
          raw(port, 'GET /app?bytes=1000000 HTTP/1.1\r\nHost: x\r\n\r\n', (s) => {
            s.pause();
            s.once('readable', () => s.destroy());
          }),
      ],
      ['upstreams past timeouts.response (504)', () => request(url, { path: '/hole' })],
      ['upstreams that send garbage (502)', () => request(url, { path: '/ssh' })],
      ['upstreams that reset mid-body', () => request(url, { path: '/cut' })],
      [
        'tunnels left for tunnel_idle',
        () =>
          raw(port, UPGRADE, (s) => {
            s.resume();
            s.on('end', () => s.end());
          }),
      ],
      ['HTTP/2 clients that vanish mid-stream', () => h2Vanish(url)],
    ];
    for (const [what, run] of storms) {
      await storm(EACH, run);
      const after = await settled(worker, before.total);
      assert.ok(
        after.total <= before.total,
        `after ${EACH} ${what}: ${after.total} descriptors, ${before.total} before; files: ${JSON.stringify(after.files)}`,
      );
    }
  } finally {
    await serve?.stop();
    for (const fault of faults) await fault.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
