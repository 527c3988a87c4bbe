/**
 * The drain's deadline (`drain.timeout`) with slow readers whose answers are spooled
 * (`limits.spool`): each is cut, honestly (an HTTP/1.1 chunked body without its last chunk, an
 * HTTP/2 stream reset INTERNAL_ERROR: never a RST_STREAM NO_ERROR, which a client reads as the
 * answer's end), each has its log line saying the drain cut it, and the spool files go.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readlink, rm } from 'node:fs/promises';
import net from 'node:net';
import { test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import {
  ERROR,
  FLAG,
  FRAME,
  headerBlock,
  headers,
  RawH2Client,
  requestFields,
} from '../accept/h2/h2-frames.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const BIG = Buffer.alloc(8 * MiB, 'b');

/** /sized: BIG with its Content-Length; /chunked: BIG in 1 MiB chunks, no length. */
async function startUpstream() {
  const finished: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    res.on('finish', () => finished.push(req.url ?? ''));
    if (req.url === '/sized') res.writeHead(200, { 'content-length': BIG.length });
    else res.writeHead(200, {});
    for (let at = 0; at < BIG.length; at += MiB) res.write(BIG.subarray(at, at + MiB));
    res.end();
  });
  return { ...upstream, finished };
}

async function gatewayWithSpool(t: { after(fn: () => unknown): void }, url: string, listener = '') {
  const dir = tempDir('candor-spool-drain-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const gw = await startTestGateway(
    `name: edge-1
drain: { delay: 0s, timeout: 500ms }
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
`,
    {},
    listener,
  );
  t.after(() => gw.close());
  return { gw, dir };
}

/** The descriptors this process holds on files in `dir`. */
async function openFilesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (link.startsWith(dir)) out.push(link);
  }
  return out;
}

const DRAIN_CUT = 'the gateway was shutting down and its drain deadline passed: it closed the connection';

test('the drain deadline cuts an HTTP/1.1 reader of a spooled chunked answer: no last chunk, logged, the file gone', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const { gw, dir } = await gatewayWithSpool(t, upstream.url);
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  socket.pause();
  socket.write('GET /chunked HTTP/1.1\r\nHost: a\r\nX-Request-Id: slow\r\n\r\n');
  await waitUntil('the upstream sent it all', () => upstream.finished.length === 1, 10_000);
  await waitUntil('the spool holds bytes', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  await gw.gateway.drain();
  const line = await gw.logFor('slow');
  assert.deepEqual([line.status, line.error, line.details], [200, 'proxy_internal_response', DRAIN_CUT]);
  assert.ok((line.spooled as number) > 0);
  assert.equal(gw.gateway.runtime().spool.overflowBytes, 0);
  assert.deepEqual(await openFilesIn(dir), []);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  await once(socket, 'close');
  const got = Buffer.concat(chunks);
  assert.match(got.subarray(0, 40).toString('latin1'), /^HTTP\/1\.1 200 /);
  assert.ok(got.length < BIG.length, 'cut short');
  assert.equal(got.includes('\r\n0\r\n\r\n'), false, 'no last chunk: the client knows it was cut');
});

test('the drain deadline resets every spooled HTTP/2 stream INTERNAL_ERROR, never NO_ERROR nor END_STREAM: logged, the files gone', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const { gw, dir } = await gatewayWithSpool(t, upstream.url, 'http2: true');
  // A client that never opens its windows: each stream gets its first 64 KiB, then waits.
  const client = await RawH2Client.connect(gw.port);
  t.after(() => client.close());
  client.send(headers(1, headerBlock(requestFields('/sized', 'GET', [['x-request-id', 'sized']]))));
  client.send(headers(3, headerBlock(requestFields('/chunked', 'GET', [['x-request-id', 'chunked']]))));
  await waitUntil('the upstream sent both', () => upstream.finished.length === 2, 10_000);
  await waitUntil('the spool holds bytes', () => gw.gateway.runtime().spool.overflowBytes > 0, 10_000);
  await gw.gateway.drain();
  await client.untilClosed();
  const resets: number[] = [];
  for (const [id, name] of [
    [1, 'sized'],
    [3, 'chunked'],
  ] as const) {
    const line = await gw.logFor(name);
    assert.deepEqual([line.status, line.error, line.details], [200, 'proxy_internal_response', DRAIN_CUT]);
    const frames = client.frames.filter((f) => f.streamId === id);
    assert.equal(frames[0]?.type, FRAME.HEADERS, `stream ${id}: its head went`);
    assert.equal(
      frames.some(
        (f) => (f.type === FRAME.DATA || f.type === FRAME.HEADERS) && (f.flags & FLAG.END_STREAM) !== 0,
      ),
      false,
      `stream ${id}: never ended as if whole`,
    );
    for (const f of frames) if (f.type === FRAME.RST_STREAM) resets.push(f.payload.readUInt32BE(0));
  }
  // node:http2 sends one reset at once and queues the next behind that write, which the
  // connection's close then drops: a stream without its reset is cut by the close, unended.
  assert.ok(resets.length > 0, 'the streams are reset');
  assert.deepEqual(
    resets.filter((code) => code !== ERROR.INTERNAL_ERROR),
    [],
    'each reset says the stream was cut: a RST_STREAM NO_ERROR reads as the end of the answer',
  );
  assert.equal(gw.gateway.runtime().spool.overflowBytes, 0);
  assert.deepEqual(await openFilesIn(dir), []);
});
