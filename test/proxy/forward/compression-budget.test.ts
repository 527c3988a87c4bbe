/**
 * routes[].compression on HTTP/2: each compressor (about 1 MiB for brotli) counts against its
 * connection's budget (`limits.http2.connection_buffer`) while it lives, so one client's streams
 * cannot each hold one past it; the streams past it go as they are (identity). A real gateway,
 * a real upstream that holds its answers open, and a real HTTP/2 client reading everything: what
 * the gateway holds for it is then its compressors alone.
 */
import assert from 'node:assert/strict';
import http, { type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const BODY = Buffer.from('{"id":1,"name":"a user of the api","tags":["one","two","three"]}\n'.repeat(64));
const HALF = BODY.length / 2;

interface Answer {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * An upstream that sends each answer's head and first half, then holds it until `finish()`;
 * without its Content-Length when `framed` is false (the gateway holds its head until min_size).
 */
async function holdingUpstream(framed = true) {
  const open: ServerResponse[] = [];
  let closedEarly = 0;
  const server = http.createServer((_req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) closedEarly++;
    });
    const length = framed ? { 'content-length': BODY.length } : {};
    res.writeHead(200, { 'content-type': 'application/json', ...length, etag: '"v1"' });
    res.write(BODY.subarray(0, HALF));
    open.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    open,
    /** Answers whose request the gateway gave up before their end (their client left). */
    closedEarly: () => closedEarly,
    finish: () => {
      for (const res of open.splice(0)) res.end(BODY.subarray(HALF));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Requests `path`; its head as soon as it comes, its whole body once it ends. */
function request(session: http2.ClientHttp2Session, path: string) {
  const stream = session.request({ ':path': path, 'accept-encoding': 'br, gzip' });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const head = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
  const whole = new Promise<Answer>((resolve, reject) => {
    stream.on('end', async () => resolve({ headers: await head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
  });
  // A failed assertion closes the session under streams still open: not an unhandled rejection.
  whole.catch(() => {});
  return { stream, head, whole };
}

type Upstream = Awaited<ReturnType<typeof holdingUpstream>>;

/**
 * Runs `body` with a holding upstream (`framed`: with Content-Length), a gateway whose one route
 * compresses in brotli with `budget` as its HTTP/2 connections' budget, and a client session.
 */
async function withGateway(
  framed: boolean,
  budget: string,
  body: (upstream: Upstream, session: http2.ClientHttp2Session) => Promise<void>,
): Promise<void> {
  const upstream = await holdingUpstream(framed);
  const gw = await startTestGateway(
    `routes:
  - upstream: app
    compression: { encodings: [br, gzip] }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${upstream.port}" }]
    pool: { max_connections: 64 }
limits:
  http2: { connection_buffer: ${budget} }
`,
    {},
    'http2: true',
  );
  const session = http2.connect(gw.url);
  try {
    await body(upstream, session);
  } finally {
    session.close();
    await gw.close();
    await upstream.close();
  }
}

function identity(answer: Answer): Buffer {
  const coding = answer.headers['content-encoding'];
  if (coding === 'br') return zlib.brotliDecompressSync(answer.body);
  assert.equal(coding, undefined);
  return answer.body;
}

test('HTTP/2: compressors count against connection_buffer; the streams past it go identity, true to their fields', async () => {
  await withGateway(true, '4MiB', async (upstream, session) => {
    const requests = Array.from({ length: 10 }, (_, i) => request(session, `/data/${i}`));
    const heads = await Promise.all(requests.map((r) => r.head));
    // Every answer is open at the upstream, its compressor (if any) alive: 4 MiB holds four of
    // brotli's 1 MiB, not ten.
    await waitUntil('every answer open', () => upstream.open.length === 10);
    const codings = heads.map((h) => h['content-encoding'] ?? 'identity');
    assert.deepEqual(
      codings.filter((c) => c === 'br').length,
      4,
      `compressed while the budget had room, then identity: ${codings}`,
    );
    assert.equal(codings.filter((c) => c === 'identity').length, 6);
    for (const h of heads) {
      assert.equal(h[':status'], 200);
      assert.equal(h.vary, 'Accept-Encoding');
      if (h['content-encoding'] === 'br') {
        assert.equal(h.etag, 'W/"v1"');
        assert.equal(h['content-length'], undefined);
      } else {
        // Identity: the upstream's own representation, its strong validator and its length.
        assert.equal(h.etag, '"v1"');
        assert.equal(h['content-length'], String(BODY.length));
      }
    }

    // The answers end: each compressor gives its room back, and the next stream is compressed.
    upstream.finish();
    const answers = await Promise.all(requests.map((r) => r.whole));
    for (const answer of answers) assert.deepEqual(identity(answer), BODY);
    const next = request(session, '/data/next');
    await waitUntil('the next answer open', () => upstream.open.length === 1);
    assert.equal((await next.head)['content-encoding'], 'br');
    upstream.finish();
    assert.deepEqual(identity(await next.whole), BODY);
  });
});

test("HTTP/2: a compressed stream the client resets gives its compressor's room back", async () => {
  // Room for one brotli compressor at a time.
  await withGateway(true, '1MiB', async (upstream, session) => {
    const first = request(session, '/data/first');
    assert.equal((await first.head)['content-encoding'], 'br');
    const second = request(session, '/data/second');
    assert.equal((await second.head)['content-encoding'], undefined, 'no room for a second one');
    first.stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitUntil('the first answer given up', () => upstream.closedEarly() === 1);
    const third = request(session, '/data/third');
    assert.equal((await third.head)['content-encoding'], 'br');
    upstream.finish();
    assert.deepEqual(identity(await second.whole), BODY);
    assert.deepEqual(identity(await third.whole), BODY);
  });
});

test('HTTP/2: a response held for min_size (no Content-Length) goes identity too once the budget is spent', async () => {
  await withGateway(false, '1MiB', async (upstream, session) => {
    const first = request(session, '/data/first');
    assert.equal((await first.head)['content-encoding'], 'br');
    const second = request(session, '/data/second');
    const head = await second.head;
    assert.equal(head['content-encoding'], undefined);
    assert.equal(head.etag, '"v1"');
    assert.equal(head.vary, 'Accept-Encoding');
    upstream.finish();
    assert.deepEqual(identity(await first.whole), BODY);
    assert.deepEqual(identity(await second.whole), BODY);
  });
});
