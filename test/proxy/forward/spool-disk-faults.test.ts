/**
 * `limits.spool_dir` on a disk that fails, for real (faulty-disk.ts): a small tmpfs that fills
 * under one spooled response or several, a folder read-only from the start or since. The
 * response goes on from memory as without a spool (the upstream then waits for the client):
 * every client that reads gets every byte, in order; the operator hears of it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { readOnly, smallDisk } from '../../helpers/faulty-disk.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/** 16 MiB (more than loopback's socket buffers take) whose every 64 KiB block carries its number: a block lost, doubled or out of order shows. */
const BIG = Buffer.alloc(16 * MiB, 'b');
for (let at = 0; at < BIG.length; at += 64 * KiB) BIG.write(`block ${at / (64 * KiB)} `, at, 'latin1');

async function startUpstream() {
  return listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': BIG.length, 'content-type': 'application/octet-stream' });
    res.end(BIG);
  });
}

/** A client that asks for /big and reads nothing until told to. */
function nonReader(port: number, id: string) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.pause();
  socket.write(`GET /big HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
  return {
    socket,
    async readAll(): Promise<Buffer> {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.resume();
      await once(socket, 'close');
      const whole = Buffer.concat(chunks);
      return whole.subarray(whole.indexOf('\r\n\r\n') + 4);
    },
  };
}

const config = (url: string, dir: string) => `name: edge-1
limits:
  spool_dir: ${dir}
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${url}
`;

test('a spool folder on a 256 KiB disk that fills under three spooled responses: each client gets every byte, the failure told once', async (t) => {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return;
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(config(upstream.url, dir));
  t.after(() => gw.close());
  const slow = ['full-1', 'full-2', 'full-3'].map((id) => nonReader(gw.port, id));
  t.after(() => {
    for (const one of slow) one.socket.destroy();
  });
  await waitUntil('the failed write told', () => gw.logs.some((l) => l.msg === 'spool write failed'), 10_000);
  const told = gw.logs.filter((l) => l.msg === 'spool write failed');
  assert.equal(told.length, 1);
  assert.equal(told[0].level, 'warn');
  // A full disk takes part of a write first, then refuses the next (ENOSPC).
  assert.match(String(told[0].details), /ENOSPC|short write/);
  for (const [i, one] of slow.entries()) {
    const got = await one.readAll();
    assert.equal(got.length, BIG.length);
    assert.ok(got.equals(BIG), 'every byte, in order');
    const line = await gw.logFor(`full-${i + 1}`);
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  }
  await waitUntil('the spool files closed', () => gw.gateway.runtime().spool.overflowBytes === 0);
  assert.deepEqual(readdirSync(dir), [], 'no file left');
});

test('a spool folder read-only from the start: the gateway starts, and a client that reads late gets every byte', async (t) => {
  const dir = smallDisk(t, '256k');
  if (dir === undefined) return;
  readOnly(t, dir);
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(config(upstream.url, dir));
  t.after(() => gw.close());
  const slow = nonReader(gw.port, 'ro');
  t.after(() => slow.socket.destroy());
  await waitUntil(
    'the spool told unusable',
    () => gw.logs.some((l) => /spool/.test(l.msg) && l.level === 'warn'),
    10_000,
  );
  const got = await slow.readAll();
  assert.ok(got.equals(BIG), 'every byte, in order');
  assert.equal((await gw.logFor('ro')).status, 200);
});

test('a spool folder that turns read-only after one response spooled: the next client still gets every byte', async (t) => {
  const dir = smallDisk(t, '64m');
  if (dir === undefined) return;
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(config(upstream.url, dir));
  t.after(() => gw.close());
  const first = nonReader(gw.port, 'before');
  t.after(() => first.socket.destroy());
  await waitUntil('the first spooled', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  assert.ok((await first.readAll()).equals(BIG));
  assert.ok(Number((await gw.logFor('before')).spooled) > 0);
  readOnly(t, dir);
  const second = nonReader(gw.port, 'after');
  t.after(() => second.socket.destroy());
  await waitUntil(
    'the spool told unusable',
    () => gw.logs.some((l) => /spool/.test(l.msg) && l.level === 'warn'),
    10_000,
  );
  assert.ok((await second.readAll()).equals(BIG), 'every byte, in order');
  assert.equal((await gw.logFor('after')).status, 200);
});
