/**
 * New connections cost the primary nothing (src/core/net/listen-options.ts): with `--workers 2`
 * on a fixed port, each worker accepts on a listening socket of its own (SO_REUSEPORT) and the
 * kernel spreads connections over them by a hash of their addresses and ports. Linux only,
 * where the kernel balances such sockets; elsewhere the cluster's round robin stays.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type LoopbackServer, listenOnLoopback } from '../helpers/loopback-server.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';

const linux = process.platform === 'linux';
const dir = tempDir('candor-accept-');
let serve: ServeProcess;
let upstream: LoopbackServer;
/** The gateway's connections to the upstream, by their port: one per worker (pool of 1 each). */
const upstreamConnections = new Set<number>();

before(async () => {
  if (!linux) return;
  upstream = await listenOnLoopback((req, res) => {
    upstreamConnections.add(req.socket.remotePort ?? 0);
    res.end('ok');
  });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: accept
listen:
  - address: 127.0.0.1:${await freePort()}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    pool: { max_connections: 1 }
`,
  );
  serve = await startServe(path, 2);
});

after(async () => {
  if (!linux) return;
  await closeAll(serve, upstream);
  rmSync(dir, { recursive: true, force: true });
});

test('connections are accepted while the primary is stopped: it does no per-connection work', {
  skip: !linux,
}, async () => {
  const primary = serve.child.pid as number;
  process.kill(primary, 'SIGSTOP');
  try {
    // Through the cluster's round robin the primary accepts: stopped, it would hand over nothing.
    const res = await request(`http://127.0.0.1:${serve.port}`, {
      path: '/while-stopped',
      headers: { connection: 'close' },
      timeoutMs: 3000,
    });
    assert.equal(res.status, 200);
  } finally {
    process.kill(primary, 'SIGCONT');
  }
});

test('the kernel spreads new connections over both workers', { skip: !linux }, async () => {
  // 40 connections from 40 source ports: all hashed to one of two sockets is a 1 in 2^39 chance.
  for (let i = 0; i < 40; i++) {
    const res = await request(`http://127.0.0.1:${serve.port}`, { headers: { connection: 'close' } });
    assert.equal(res.status, 200);
  }
  assert.equal(upstreamConnections.size, 2, 'each worker served some, on its one upstream connection');
});
