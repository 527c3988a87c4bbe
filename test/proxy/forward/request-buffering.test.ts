/**
 * Request buffering (routes[].request_buffering, routes[].limits.buffer): a body up to the
 * buffer is read whole before an upstream connection is taken, so slow uploads hold only their
 * own client connections, never the pool's; the read has a minimum-rate deadline
 * (limits.body_read_timeout + bytes / limits.body_min_rate); a longer body streams.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { rawUpload, request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

interface Seen {
  readonly method: string;
  readonly headers: http.IncomingHttpHeaders;
  body: Buffer;
  complete: boolean;
}

/** An upstream that answers GETs at once and a POST once its body is whole, with what it got. */
async function startUpstream() {
  const seen: Seen[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    const entry: Seen = {
      method: req.method ?? '',
      headers: req.headers,
      body: Buffer.alloc(0),
      complete: false,
    };
    seen.push(entry);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks);
      entry.complete = true;
      res.end(`${req.method} ${entry.body.length}`);
    });
  });
  return { ...upstream, seen };
}

/** A chunked upload to /upload that sends its head and a first byte, then one more byte every `everyMs`. */
function dripUpload(port: number, everyMs: number) {
  const chunk = '1\r\nx\r\n';
  return rawUpload(port, 'POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', {
    first: chunk,
    drip: { piece: chunk, everyMs },
  });
}

test('130 dripping chunked uploads do not cost legitimate GETs their answers (scaled: 12 against a pool of 8)', async (t) => {
  // The bound: a body up to limits.buffer (1 MiB by default) is read before a connection is
  // taken, so the uploads hold no upstream connection at all. Before request buffering each
  // took one of the pool's 8 at once, and the GETs waited out the queue into a 503.
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    pool: { max_connections: 8, queue_timeout: 1s }
`);
  const attackers = Array.from({ length: 12 }, () => dripUpload(gw.port, 5_000));
  // Hooks run in the order they are added: the uploads go before the gateway's close, which
  // would wait for their bodies until body_read_timeout's default (10 s) cut them.
  t.after(() => {
    for (const a of attackers) a.stop();
  });
  t.after(() => gw.close());
  // Each upload's head and first byte are in; a gateway that streamed them would have handed
  // the upstream their heads by now.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const answers = await Promise.all(Array.from({ length: 8 }, () => request(gw.url, { path: '/ok' })));
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(8).fill(200),
  );
  assert.equal(upstream.seen.filter((s) => s.method === 'POST').length, 0, 'no upload reached the upstream');
});

test('a buffered body that arrives slower than body_min_rate is a 408 after body_read_timeout; the upstream sees nothing', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
limits: { body_read_timeout: 300ms, body_min_rate: 1KiB }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  t.after(() => gw.close());
  // A byte every 50 ms: never idle for body_idle_timeout (30 s), far under 1 KiB a second.
  const client = dripUpload(gw.port, 50);
  t.after(() => client.stop());
  await waitUntil('answered', () => client.received().includes('\r\n\r\n'), 3000);
  assert.match(client.received(), /^HTTP\/1\.1 408 /);
  const line = await gw.accessLine();
  assert.equal(line.status, 408);
  assert.equal(line.error, 'http_request_error');
  assert.match(String(line.details), /^request body slower than 1024 bytes\/s \(\d+ bytes in \d+ ms\)$/);
  assert.equal(upstream.seen.length, 0);
});

test('a chunked body within the buffer goes upstream whole, with its Content-Length', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  t.after(() => gw.close());
  const body = Buffer.alloc(40 * 1024, 'b');
  const res = await request(gw.url, {
    method: 'POST',
    path: '/upload',
    headers: { 'transfer-encoding': 'chunked' },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(res.text, `POST ${body.length}`);
  assert.equal(upstream.seen[0].headers['content-length'], String(body.length));
  assert.equal(upstream.seen[0].headers['transfer-encoding'], undefined);
});

test('a chunked body longer than the buffer streams, the part read first included', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 16KiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  t.after(() => gw.close());
  const body = Buffer.alloc(200 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  const res = await request(gw.url, {
    method: 'POST',
    path: '/upload',
    headers: { 'transfer-encoding': 'chunked' },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(res.text, `POST ${body.length}`);
  assert.equal(upstream.seen[0].headers['transfer-encoding'], 'chunked');
  assert.ok(upstream.seen[0].body.equals(body), 'the upstream got every byte, in order');
});

test('request_buffering: false streams even a small body as it arrives', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    request_buffering: false
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
`);
  t.after(() => gw.close());
  const client = dripUpload(gw.port, 5_000);
  t.after(() => client.stop());
  // The head went upstream before the body was whole.
  await waitUntil('the upstream has the head', () => upstream.seen.length === 1, 3000);
  assert.equal(upstream.seen[0].complete, false);
});
