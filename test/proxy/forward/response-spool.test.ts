/**
 * `limits.spool`: a response larger than `routes[].limits.buffer` going to a client that reads
 * slower than the upstream sends goes on through a file, and the upstream connection goes back
 * to its pool as soon as the upstream has sent the whole body. Real gateways, real upstreams
 * (counting their connections: a request on the socket another just used is the pool's reuse),
 * real clients that read nothing, then everything; the bytes checked block by block.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { settledArrayBuffers } from '../../helpers/settled-memory.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 8 * MiB;

/** 8 MiB whose every 64 KiB block carries its number: a block lost, doubled or out of order shows. */
function body(size = SIZE): Buffer {
  const out = Buffer.alloc(size, 'b');
  for (let at = 0; at < size; at += 64 * KiB) out.write(`block ${at / (64 * KiB)} `, at, 'latin1');
  return out;
}
const BIG = body();
const BIG_DIGEST = createHash('sha256').update(BIG).digest('base64');

/**
 * GET /big: BIG (or /cut: half of it, then the connection is destroyed); anything else: "ok".
 * Counts its connections, and says which connection each request came on.
 */
async function startUpstream() {
  const seen: { path: string; socket: number; finished: boolean }[] = [];
  const sockets = new Map<net.Socket, number>();
  const upstream = await listenOnLoopback((req, res) => {
    const socket = sockets.get(req.socket) as number;
    const entry = { path: req.url ?? '', socket, finished: false };
    seen.push(entry);
    res.on('finish', () => {
      entry.finished = true;
    });
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': BIG.length, 'content-type': 'application/octet-stream' });
      res.end(BIG);
      return;
    }
    if (req.url === '/trailed') {
      // Chunked, with a trailer that can only go once the last byte has.
      res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'x-digest' });
      for (let at = 0; at < BIG.length; at += MiB) res.write(BIG.subarray(at, at + MiB));
      res.addTrailers({ 'x-digest': BIG_DIGEST });
      res.end();
      return;
    }
    if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': BIG.length });
      res.write(BIG.subarray(0, BIG.length / 2), () => res.destroy());
      return;
    }
    res.end('ok');
  });
  upstream.server.on('connection', (socket) => sockets.set(socket, sockets.size + 1));
  return { ...upstream, seen, connections: () => sockets.size };
}

/** A client that asks for `path` and reads nothing until told to. */
function nonReader(port: number, id: string, path = '/big') {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
  return {
    socket,
    /** Reads the rest: the body's bytes once the connection closes. */
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

async function spoolDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = tempDir('candor-spool-test-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function gatewayConfig(url: string, dir: string, extra = '') {
  return `name: edge-1
limits:
  spool_dir: ${dir}
${extra}routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${url}
    pool: { max_connections: 1, queue_timeout: 2s }
`;
}

/** The descriptors this process holds on files in `dir` (they are unlinked: their links end in "(deleted)"). */
async function openFilesIn(dir: string): Promise<{ link: string; mode: number }[]> {
  const out: { link: string; mode: number }[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (!link.startsWith(dir)) continue;
    const mode = await stat(`/proc/self/fd/${fd}`).then(
      (s) => s.mode & 0o777,
      () => -1,
    );
    out.push({ link, mode });
  }
  return out;
}

test('a client that reads nothing does not hold the upstream connection: the next request goes on the same upstream socket, and the slow client still gets every byte in order', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir));
  t.after(() => gw.close());
  const slow = nonReader(gw.port, 'slow');
  t.after(() => slow.socket.destroy());
  await waitUntil('the upstream sent the whole body', () => upstream.seen[0]?.finished === true, 10_000);
  // The file is open, owner-only, and already unlinked: nothing of it is in the directory.
  await waitUntil('the spool holds bytes', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  const during = (await gw.gateway.metrics.exposition()).text;
  assert.match(during, /\ncandor_spool_bytes [1-9]\d*\n/);
  assert.deepEqual(await readdir(dir), []);
  const files = await openFilesIn(dir);
  assert.equal(files.length, 1, JSON.stringify(files));
  assert.match(files[0].link, /\(deleted\)$/);
  assert.equal(files[0].mode, 0o600);
  // The pool has one connection: a request that gets it is proof it was given back.
  const next = await request(gw.url, { path: '/ok' });
  assert.equal(next.status, 200);
  assert.equal(next.text, 'ok');
  assert.deepEqual(
    upstream.seen.map((s) => [s.path, s.socket]),
    [
      ['/big', 1],
      ['/ok', 1],
    ],
    'the second request reused the first one’s upstream socket',
  );
  assert.equal(upstream.connections(), 1);
  // The slow client has not finished: its request is not logged yet.
  assert.equal(
    gw.logs.find((l) => l.request_id === 'slow'),
    undefined,
  );
  const got = await slow.readAll();
  assert.equal(got.length, SIZE);
  assert.ok(got.equals(BIG), 'every byte, in order');
  const line = await gw.logFor('slow');
  assert.equal(line.status, 200);
  assert.equal(line.error, undefined);
  assert.equal(line.bytes_out, SIZE);
  assert.ok(
    typeof line.spooled === 'number' && line.spooled > 0 && line.spooled <= SIZE,
    String(line.spooled),
  );
  // The file went with the response, and its bytes back to the space.
  await waitUntil('the spool file is closed', () => gw.gateway.runtime().spool.overflowBytes === 0);
  assert.deepEqual(await openFilesIn(dir), []);
  const metrics = (await gw.gateway.metrics.exposition()).text;
  assert.match(metrics, /candor_spooled_responses_total\{route="[^"]*"\} 1\n/);
  assert.match(metrics, /\ncandor_spool_bytes 0\n/);
  assert.match(metrics, new RegExp(`candor_spooled_bytes_total\\{route="[^"]*"\\} ${line.spooled}\\n`));
});

test('a chunked answer with a trailer, spooled for a client that reads nothing until the upstream is done: every byte in order, then the trailer, and the upstream connection freed first', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir));
  t.after(() => gw.close());
  const socket = net.connect(gw.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.pause();
  socket.write(
    'GET /trailed HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nX-Request-Id: trailed\r\nConnection: close\r\n\r\n',
  );
  await waitUntil('the upstream sent the whole body', () => upstream.seen[0]?.finished === true, 10_000);
  assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
  assert.deepEqual(
    upstream.seen.map((s) => s.socket),
    [1, 1],
    'the pool had its connection back while the client had read nothing',
  );
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  await once(socket, 'close');
  const raw = Buffer.concat(chunks);
  const headEnd = raw.indexOf('\r\n\r\n');
  assert.match(raw.subarray(0, headEnd).toString(), /\r\ntransfer-encoding: chunked\r\n/i);
  // De-chunked by hand: a chunk lost, doubled or cut shows in the sizes or the bytes.
  const parts: Buffer[] = [];
  let at = headEnd + 4;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = Number.parseInt(raw.subarray(at, eol).toString(), 16);
    at = eol + 2;
    if (size === 0) break;
    parts.push(raw.subarray(at, at + size));
    assert.equal(raw.subarray(at + size, at + size + 2).toString(), '\r\n');
    at += size + 2;
  }
  assert.ok(Buffer.concat(parts).equals(BIG), 'every byte, in order');
  assert.equal(
    raw.subarray(at).toString(),
    `x-digest: ${BIG_DIGEST}\r\n\r\n`,
    'the trailer, after the last byte',
  );
  const line = await gw.logFor('trailed');
  assert.equal(line.status, 200);
  assert.equal(line.error, undefined);
  assert.ok(typeof line.spooled === 'number' && line.spooled > 0, JSON.stringify(line));
  await waitUntil('the spool file is closed', () => gw.gateway.runtime().spool.overflowBytes === 0);
});

test('an HTTP/2 client whose stream window stays shut does not hold the upstream connection either', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir), {}, 'http2: true');
  t.after(() => gw.close());
  const client = http2.connect(gw.url);
  t.after(() => client.close());
  const stream = client.request({ ':path': '/big', 'x-request-id': 'h2-slow' });
  stream.pause();
  await waitUntil('the upstream sent the whole body', () => upstream.seen[0]?.finished === true, 10_000);
  const next = await new Promise<number>((resolve, reject) => {
    const s = client.request({ ':path': '/ok' });
    s.on('response', (h) => resolve(Number(h[':status'])));
    s.on('error', reject);
    s.resume();
  });
  assert.equal(next, 200);
  assert.deepEqual(
    upstream.seen.map((s) => s.socket),
    [1, 1],
  );
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.resume();
  await once(stream, 'end');
  assert.ok(Buffer.concat(chunks).equals(BIG), 'every byte, in order');
  const line = await gw.logFor('h2-slow');
  assert.equal(line.status, 200);
  assert.ok(typeof line.spooled === 'number' && line.spooled > 0);
});

test('an upstream that dies mid-body while the rest is spooled: the client sees the response cut, never whole', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir));
  t.after(() => gw.close());
  const slow = nonReader(gw.port, 'cut', '/cut');
  t.after(() => slow.socket.destroy());
  const line = await gw.logFor('cut');
  assert.equal(line.status, 200);
  assert.equal(line.error, 'http_response_incomplete');
  const got = await slow.readAll();
  assert.ok(got.length < SIZE, `${got.length} bytes of ${SIZE}: cut`);
  await waitUntil('the spool file is closed', () => gw.gateway.runtime().spool.overflowBytes === 0);
});

test('past limits.spool.max_response the upstream waits for the client, as without a spool, and send_timeout cuts a client that takes nothing', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(
    gatewayConfig(upstream.url, dir, '  send_timeout: 1s\n  spool: { max_response: 1MiB }\n'),
  );
  t.after(() => gw.close());
  const slow = nonReader(gw.port, 'bounded');
  t.after(() => slow.socket.destroy());
  const line = await gw.logFor('bounded');
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.details, 'client took no response bytes for 1000 ms (limits.send_timeout)');
  // The file stopped at its bound; the rest waited for the client (the upstream was paused).
  assert.ok(typeof line.spooled === 'number' && line.spooled <= MiB, String(line.spooled));
});

test('limits.spool.max_total 0 turns spooling off: the upstream waits for the client', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(
    gatewayConfig(upstream.url, dir, '  send_timeout: 1s\n  spool: { max_total: 0 }\n'),
  );
  t.after(() => gw.close());
  const slow = nonReader(gw.port, 'off');
  t.after(() => slow.socket.destroy());
  const line = await gw.logFor('off');
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.spooled, undefined);
});

test('spool files a killed process left are removed at start; other files are not', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  await writeFile(join(dir, 'candor-spool-4242-1-abcdef'), 'left over');
  await writeFile(join(dir, 'notes.txt'), 'mine');
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir));
  t.after(() => gw.close());
  assert.deepEqual(await readdir(dir), ['notes.txt']);
  assert.ok(gw.logs.some((l) => l.msg === 'removed leftover spool files' && l.files === 1));
});

test('a spool directory that cannot be made: the response is held as without a spool, the operator is told, and a client that reads gets it whole', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const file = join(dir, 'a-file');
  await writeFile(file, 'not a directory');
  const gw = await startTestGateway(gatewayConfig(upstream.url, join(file, 'spool')));
  t.after(() => gw.close());
  const slow = nonReader(gw.port, 'no-dir');
  t.after(() => slow.socket.destroy());
  await waitUntil('the upstream answer began', () => upstream.seen.length === 1);
  // Spooling is off for every response until the directory is fixed: that is no silent matter.
  await waitUntil('the file that could not be made is told', () =>
    gw.logs.some((l) => l.msg === 'spool write failed'),
  );
  const told = gw.logs.find((l) => l.msg === 'spool write failed');
  assert.equal(told?.level, 'warn');
  assert.equal(told?.dir, join(file, 'spool'));
  assert.match(String(told?.details), /ENOTDIR/);
  const got = await slow.readAll();
  assert.ok(got.equals(BIG), 'every byte, in order');
  const line = await gw.logFor('no-dir');
  assert.equal(line.status, 200);
  assert.equal(line.error, undefined);
  assert.equal(line.spooled, undefined);
  assert.equal(gw.gateway.runtime().spool.overflowBytes, 0);
});

test('a spool directory removed while the gateway runs (a tmp cleaner, an rm -rf) is made again by the next response that spools, which spools', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = join(await spoolDir(t), 'spool');
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir));
  t.after(() => gw.close());
  const first = nonReader(gw.port, 'first');
  await waitUntil('the first response spools', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  first.socket.destroy();
  await waitUntil('its file closed', () => gw.gateway.runtime().spool.overflowBytes === 0);
  await rm(dir, { recursive: true });

  const second = nonReader(gw.port, 'second');
  t.after(() => second.socket.destroy());
  await waitUntil('the second response spools', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.ok((await second.readAll()).equals(BIG), 'every byte, in order');
  const line = await gw.logFor('second');
  assert.equal(line.status, 200);
  assert.ok((line.spooled as number) > 0);
  assert.equal(
    gw.logs.some((l) => l.msg === 'spool write failed'),
    false,
  );
});

test('a client that leaves while its response is spooled: the file goes at once, its bytes back to the space, and the log says the client left', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir));
  t.after(() => gw.close());
  const slow = nonReader(gw.port, 'leaves');
  await waitUntil('the upstream sent the whole body', () => upstream.seen[0]?.finished === true, 10_000);
  await waitUntil('the spool holds bytes', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  // The pool's one connection is back (the whole body is in the gateway): the client leaves then.
  assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
  assert.equal(gw.gateway.runtime().spool.overflowBytes > 0, true);
  slow.socket.destroy();
  const line = await gw.logFor('leaves');
  // The upstream's part was whole; the client's was cut by its leaving, and the line says so as it
  // does for a client that leaves while the upstream still sends (not a 200 with no word of it).
  assert.deepEqual(
    [line.status, line.client_aborted, line.error, line.flag, line.stage, line.details],
    [200, true, 'client_closed', 'CC', 'body_streaming', 'client closed the connection'],
  );
  await waitUntil('the spool file is closed', () => gw.gateway.runtime().spool.overflowBytes === 0);
  assert.deepEqual(await openFilesIn(dir), []);
  // The client's leaving cost the upstream nothing: its connection serves the next request still.
  assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
  assert.deepEqual(
    upstream.seen.map((s) => s.socket),
    [1, 1, 1],
  );
});

test('a disk that fills under a spooled response: the rest waits in memory as without a spool, and a client that reads gets every byte', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(gatewayConfig(upstream.url, dir));
  t.after(() => gw.close());
  // This process may write no file past 1 MiB (RLIMIT_FSIZE; Node ignores SIGXFSZ): a write
  // there fails with EFBIG, as one on a full disk fails with ENOSPC.
  const limit = (value: string) =>
    execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${value}`]);
  limit(`${MiB}:unlimited`);
  t.after(() => limit('unlimited:unlimited'));
  const slow = nonReader(gw.port, 'full-disk');
  t.after(() => slow.socket.destroy());
  await waitUntil(
    'the failed write is told',
    () => gw.logs.some((l) => l.msg === 'spool write failed'),
    10_000,
  );
  const told = gw.logs.find((l) => l.msg === 'spool write failed');
  assert.equal(told?.level, 'warn');
  assert.equal(told?.dir, dir);
  limit('unlimited:unlimited');
  const got = await slow.readAll();
  assert.equal(got.length, SIZE);
  assert.ok(got.equals(BIG), 'every byte, in order');
  const line = await gw.logFor('full-disk');
  assert.equal(line.status, 200);
  assert.equal(line.error, undefined);
  assert.ok(
    typeof line.spooled === 'number' && line.spooled > 0 && line.spooled <= MiB,
    String(line.spooled),
  );
  await waitUntil('the spool file is closed', () => gw.gateway.runtime().spool.overflowBytes === 0);
});

/** The upstream of the memory test in a process of its own: what this process holds is the gateway's alone. */
async function bigUpstreamProcess(): Promise<{ url: string; sent(): number; stop(): Promise<void> }> {
  const source = `
    import http from 'node:http';
    const big = Buffer.alloc(${SIZE}, 'x');
    const server = http.createServer((req, res) => {
      if (req.url === '/big') {
        res.on('finish', () => process.stdout.write('sent\\n'));
        res.writeHead(200, { 'content-length': '${SIZE}' });
        res.end(big);
      }
      else res.end('ok');
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
    process.stdin.on('end', () => process.exit(0)).resume();`;
  // stdin is the child's lifeline: when this process ends, however it ends, so does the upstream.
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  // Then one line per answer the upstream wrote whole.
  let sent = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    sent += chunk.toString().split('sent').length - 1;
  });
  return {
    url: `http://127.0.0.1:${Number(line.toString().trim())}`,
    sent: () => sent,
    stop: async () => {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}

// Its own bound: 1 GiB goes to the disk first, which a loaded machine takes a while to write.
test('130 clients that ask for 8 MiB and read nothing: 5 legitimate GETs get 200, and the gateway holds memory flat', {
  timeout: 300_000,
}, async (t) => {
  const CLIENTS = 130;
  const upstream = await bigUpstreamProcess();
  t.after(() => upstream.stop());
  const dir = await spoolDir(t);
  const readers: ReturnType<typeof nonReader>[] = [];
  // Hooks run in the order they are added: the readers go before the gateway's close, which
  // would wait for them until send_timeout (30 s).
  t.after(() => {
    for (const r of readers) r.socket.destroy();
  });
  // A pool of 8 and send_timeout's default (30 s): without the spool, every 8 non-readers hold
  // every upstream connection for 30 s, the upstream never gets to send them all here, and a GET
  // waits behind them (with the pool and queue, 5 of 5 were 503 connection_limit_reached).
  // The queue is long here only so that every non-reader gets its answer however slow this
  // machine's disk is (1 GiB goes through 8 connections); the GETs come once the upstream has
  // sent them all, and find the pool free while 130 clients still have read nothing.
  const gw = await startTestGateway(`name: edge-1
limits:
  spool_dir: ${dir}
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    pool: { max_connections: 8, queue_timeout: 200s }
`);
  t.after(() => gw.close());
  // Warm: every module loaded before the baseline.
  assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
  const before = await settledArrayBuffers(256 * KiB);
  readers.push(...Array.from({ length: CLIENTS }, (_, i) => nonReader(gw.port, `reader-${i}`)));
  // The upstream wrote every answer whole: its connections are free, the answers on disk
  // (less what the client sockets took).
  const { spool } = gw.gateway.runtime();
  await waitUntil('every answer sent by the upstream', () => upstream.sent() === CLIENTS, 200_000);
  const answers = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      request(gw.url, { path: '/ok', headers: { 'x-request-id': `get-${i}` } }),
    ),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(5).fill(200),
  );
  for (let i = 0; i < 5; i++) assert.equal((await gw.logFor(`get-${i}`)).error, undefined);
  const held = (await settledArrayBuffers(256 * KiB)) - before;
  t.diagnostic(
    `${CLIENTS} non-readers of 8 MiB: ${(held / MiB).toFixed(1)} MiB of memory held, ${(spool.overflowBytes / MiB).toFixed(0)} MiB spooled`,
  );
  // The bound: per non-reader, what its socket holds (limits.buffer, 64 KiB, as before the spool)
  // and one read back from the file (64 KiB), with as much again for how the turns fell. Without
  // the spool the answers (1 GiB) would be held here, or by the upstream connections.
  assert.ok(held < CLIENTS * 256 * KiB, `held ${held} bytes`);
});

test('a compressing, caching route: a spooled answer reaches an HTTP/2 client compressed and whole, the log says both sizes, and the cache keeps the identity body', async (t) => {
  const TEXT = Buffer.from(randomBytes(6 * MiB).toString('base64'));
  let sockets = 0;
  const upstream = await listenOnLoopback((req, res) => {
    if (req.url !== '/text') return void res.end('ok');
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': TEXT.length,
      'cache-control': 'max-age=60',
    });
    res.end(TEXT);
  });
  upstream.server.on('connection', () => sockets++);
  t.after(() => upstream.close());
  const dir = await spoolDir(t);
  const gw = await startTestGateway(
    `name: edge-1
limits:
  spool_dir: ${dir}
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
    compression: {}
    cache: { max_entry: 16MiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    pool: { max_connections: 1, queue_timeout: 2s }
`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const client = http2.connect(gw.url);
  t.after(() => client.close());
  const stream = client.request({ ':path': '/text', 'accept-encoding': 'gzip', 'x-request-id': 'h2-gz' });
  stream.pause();
  await waitUntil('the spool holds bytes', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  // The upstream's one connection is free again while the client has read nothing.
  assert.equal((await request(gw.url, { path: '/ok' })).text, 'ok');
  assert.equal(sockets, 1);
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.resume();
  await once(stream, 'end');
  const gz = Buffer.concat(chunks);
  assert.ok(zlib.gunzipSync(gz).equals(TEXT), 'every byte, in order');
  const line = await gw.logFor('h2-gz');
  assert.equal(line.encoding, 'gzip');
  assert.equal(line.encoded_from, TEXT.length);
  assert.equal(line.encoded_to, gz.length);
  assert.equal(line.bytes_out, TEXT.length);
  assert.ok(typeof line.spooled === 'number' && line.spooled > 0);
  // Stored whole, as the upstream sent it: a client without Accept-Encoding gets it as it is.
  const hit = await request(gw.url, { path: '/text' });
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(hit.headers['content-encoding'], undefined);
  assert.ok(hit.body.equals(TEXT));
});
