/**
 * `limits.spool.max_total` spent (hostile slow readers filled it first): the slow readers that
 * come after it cost what they would without a spool (the upstream paused past
 * `routes[].limits.buffer`), not a spool's in-memory queue each (256 KiB more, 509 KiB a reader
 * in all where spooling off holds 156 KiB). Real gateway, real upstream, clients that read nothing.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { settledArrayBuffers } from '../../helpers/settled-memory.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const KiB = 1024;
const READERS = 40;
const BIG = Buffer.alloc(8 * 1024 * KiB, 'b');

test('40 readers that read nothing against a spool of 1 MiB: past it, each holds what it would without a spool', async (t) => {
  const dir = tempDir('candor-spool-test-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  let asked = 0;
  const upstream = await listenOnLoopback((req, res) => {
    if (req.url !== '/big') return res.end('ok');
    asked++;
    res.writeHead(200, { 'content-length': BIG.length });
    res.end(BIG);
  });
  t.after(() => upstream.close());
  const sockets: net.Socket[] = [];
  // Hooks run in the order they are added: the readers go before the gateway's close, which
  // would wait for them until send_timeout (30 s).
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  const gw = await startTestGateway(`name: edge-1
limits:
  spool_dir: ${dir}
  spool: { max_total: 1MiB }
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    pool: { max_connections: ${READERS} }
`);
  t.after(() => gw.close());
  // Warm: every module loaded before the baseline.
  assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
  const before = await settledArrayBuffers();
  for (let i = 0; i < READERS; i++) {
    const socket = net.connect(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.pause();
    socket.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
    sockets.push(socket);
  }
  await waitUntil('every reader answered', () => asked === READERS);
  const held = (await settledArrayBuffers()) - before;
  t.diagnostic(`${Math.round(held / READERS / KiB)} KiB a reader`);
  assert.ok(gw.gateway.runtime().spool.overflowBytes <= 1024 * KiB);
  // Without a spool: limits.buffer and one read from the upstream a reader, as much again for
  // how the turns fell. A spool's queue (256 KiB) each past the bound made it 509 KiB.
  assert.ok(held < READERS * 320 * KiB, `held ${held} bytes`);
});
