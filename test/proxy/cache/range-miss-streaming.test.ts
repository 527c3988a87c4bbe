/**
 * A GET's Range that finds nothing stored, answered as the whole answer streams in (as nginx's
 * proxy_cache answers it), not once it is all stored: the upstream here sends its head and the
 * first part of a large body, then waits for the test, which asserts the client's answer came
 * while it waits. The rest of a Range miss: range-miss.test.ts, range-miss-unkept.test.ts.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { BODY, FIRST, LENGTH, pausedOrigin as paused, streamed } from '../../helpers/paused-origin.ts';
import { HIT, MISS, type Seen, WHOLE } from '../../helpers/ranged-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();
const pausedOrigin = (seen: Seen[]) => paused(seen, keep);

const gateway = (url: string) =>
  keep(startTestGateway(cachedPages(url, '{ lock_timeout: 60s, max_entry: 8MiB }', 'edge-1', '')));

test('a Range miss within what came: its 206 and its bytes while the upstream still holds the rest; the whole answer is then stored', async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen);
  const gw = await gateway(up.url);
  const part = await request(gw.url, {
    path: '/pages/clip',
    headers: { range: 'bytes=100-199', 'x-request-id': 'seek' },
    timeoutMs: 5000,
  });
  assert.ok(up.waiting, 'answered while the upstream still holds the rest of the body');
  assert.equal(part.status, 206);
  assert.equal(part.aborted, false);
  assert.equal(part.headers['content-range'], `bytes 100-199/${LENGTH}`);
  assert.equal(part.headers['content-length'], '100');
  assert.equal(part.headers.etag, '"v1"');
  assert.equal(part.headers['content-type'], 'video/mp4');
  assert.match(String(part.headers['cache-status']), MISS);
  assert.deepEqual(part.body, BODY.subarray(100, 200));
  const line = await gw.logFor('seek');
  assert.equal(line.cache, 'collapsed');
  assert.equal(line.attempts, 0);
  assert.equal(line.error, undefined);
  up.go();
  await waitUntil('the whole fetch is logged', () => gw.logs.some((l) => l.background === 'fill'));
  const fill = gw.logs.find((l) => l.background === 'fill') as Record<string, unknown>;
  assert.equal(fill.for_req_id, line.req_id);
  assert.equal(fill.status, 200);
  const hit = await request(gw.url, { path: '/pages/clip', headers: { range: 'bytes=-10' } });
  assert.equal(hit.status, 206);
  assert.deepEqual(hit.body, BODY.subarray(LENGTH - 10));
  assert.match(String(hit.headers['cache-status']), HIT);
  assert.deepEqual(seen, [WHOLE('/pages/clip')]);
});

test('a Range miss past what came: its 206 head at once, its bytes as they come once the upstream goes on', async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen);
  const gw = await gateway(up.url);
  const start = LENGTH - 1000;
  const asked = request(gw.url, {
    path: '/pages/late',
    headers: { range: `bytes=${start}-` },
    timeoutMs: 5000,
  });
  // Nothing of the part is in yet: the head cannot prove itself here without a raw client, the bytes can.
  await waitUntil('the whole fetch reached the upstream', () => up.waiting);
  up.go();
  const part = await asked;
  assert.equal(part.status, 206);
  assert.equal(part.aborted, false);
  assert.equal(part.headers['content-range'], `bytes ${start}-${LENGTH - 1}/${LENGTH}`);
  assert.equal(part.headers['content-length'], '1000');
  assert.deepEqual(part.body, BODY.subarray(start));
  assert.deepEqual(seen, [WHOLE('/pages/late')]);
});

test('a Range miss past the end: its 416 once the head tells the length, while the upstream still holds the rest', async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen);
  const gw = await gateway(up.url);
  const past = await request(gw.url, {
    path: '/pages/past',
    headers: { range: `bytes=${LENGTH}-` },
    timeoutMs: 5000,
  });
  assert.ok(up.waiting, 'answered while the upstream still holds the rest of the body');
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${LENGTH}`);
  assert.equal(past.body.length, 0);
  up.go();
  assert.deepEqual(seen, [WHOLE('/pages/past')]);
});

test('the whole fetch cut mid-body after the 206 head went: the client sees its answer cut, never a short one that looks whole; logged http_response_incomplete', async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen);
  const gw = await gateway(up.url);
  const asked = streamed(gw.url, '/pages/cut', { range: `bytes=0-${FIRST * 2 - 1}`, 'x-request-id': 'cut' });
  // The 206 head came while the upstream holds the rest; then the rest never comes.
  const head = await asked.head;
  assert.ok(up.waiting, 'the head came while the upstream still holds the rest of the body');
  assert.equal(head.statusCode, 206);
  assert.equal(head.headers['content-range'], `bytes 0-${FIRST * 2 - 1}/${LENGTH}`);
  assert.equal(head.headers['content-length'], String(FIRST * 2));
  up.reset();
  const { body, complete } = await asked.body;
  assert.equal(complete, false, 'the transfer is cut, not ended');
  assert.ok(body.length < FIRST * 2);
  assert.deepEqual(body, BODY.subarray(0, body.length));
  const line = await gw.logFor('cut');
  assert.equal(line.status, 206);
  assert.equal(line.error, 'http_response_incomplete');
  assert.equal(line.client_aborted, false);
  assert.deepEqual(seen, [WHOLE('/pages/cut')]);
});

test('concurrent Range misses of one key follow its one whole fetch as it streams: each its part, while the upstream still holds the rest', async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen);
  const gw = await gateway(up.url);
  const starts = [0, 1000, 30_000, 60_000];
  const parts = await Promise.all(
    starts.map((start) =>
      request(gw.url, {
        path: '/pages/many',
        headers: { range: `bytes=${start}-${start + 99}` },
        timeoutMs: 5000,
      }),
    ),
  );
  assert.ok(up.waiting, 'answered while the upstream still holds the rest of the body');
  parts.forEach((part, i) => {
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes ${starts[i]}-${starts[i] + 99}/${LENGTH}`);
    assert.match(String(part.headers['cache-status']), MISS);
    assert.deepEqual(part.body, BODY.subarray(starts[i], starts[i] + 100));
  });
  up.go();
  assert.deepEqual(seen, [WHOLE('/pages/many')]);
});

test('a whole answer without Content-Length (chunked): its length is known only at its end, so the Range is answered from the store once it is whole', async () => {
  const seen: Seen[] = [];
  let finish: (() => void) | undefined;
  const up = await keep(
    listenOnLoopback((req, res) => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        range: req.headers.range,
        ifRange: undefined,
      });
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v1"' });
      res.write(BODY.subarray(0, FIRST));
      finish = () => res.end(BODY.subarray(FIRST));
    }),
  );
  const gw = await gateway(up.url);
  const asked = request(gw.url, {
    path: '/pages/chunked',
    headers: { range: 'bytes=10-19' },
    timeoutMs: 5000,
  });
  await waitUntil('the whole fetch is under way', () => finish !== undefined);
  finish?.();
  const part = await asked;
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 10-19/${LENGTH}`);
  assert.match(String(part.headers['cache-status']), MISS);
  assert.deepEqual(part.body, BODY.subarray(10, 20));
  assert.deepEqual(seen, [WHOLE('/pages/chunked')]);
});

test("a Range of another variant (Vary) coming while a fill streams is not given the fill's bytes: it waits for it, then goes upstream", async () => {
  const seen: { language: string | undefined; range: string | undefined }[] = [];
  let finish: (() => void) | undefined;
  const up = await keep(
    listenOnLoopback((req, res) => {
      const language = req.headers['accept-language'] as string | undefined;
      const range = req.headers.range;
      seen.push({ language, range });
      const fill = language === 'fr' ? 'f' : 'e';
      const fields = { 'cache-control': 'max-age=600', vary: 'Accept-Language' };
      if (range !== undefined) {
        res.writeHead(206, { ...fields, 'content-range': `bytes 0-9/${LENGTH}`, 'content-length': 10 });
        return void res.end(fill.repeat(10));
      }
      // The fr whole answer waits for the test after its first part; another comes at once.
      res.writeHead(200, { ...fields, 'content-length': LENGTH });
      if (language !== 'fr') return void res.end(fill.repeat(LENGTH));
      res.write(fill.repeat(FIRST));
      finish = () => res.end(fill.repeat(LENGTH - FIRST));
    }),
  );
  const gw = await gateway(up.url);
  const fr = await request(gw.url, {
    path: '/pages/hello',
    headers: { 'accept-language': 'fr', range: 'bytes=0-9' },
    timeoutMs: 5000,
  });
  assert.equal(fr.text, 'f'.repeat(10));
  const asked = request(gw.url, {
    path: '/pages/hello',
    headers: { 'accept-language': 'en', range: 'bytes=0-9' },
    timeoutMs: 5000,
  });
  // Given a moment to arrive and wait on the fr fill (had it come after, it would fetch its own whole answer).
  await new Promise((resolve) => setTimeout(resolve, 200));
  finish?.();
  const en = await asked;
  assert.equal(en.status, 206);
  assert.equal(en.text, 'e'.repeat(10));
  assert.equal(en.headers['content-range'], `bytes 0-9/${LENGTH}`);
  assert.match(String(en.headers['cache-status']), /^edge-1; fwd=vary-miss/);
  assert.deepEqual(seen[0], { language: 'fr', range: undefined });
  assert.equal(seen.length, 2);
  assert.equal(seen[1].language, 'en');
});

test('HTTP/2: the whole fetch cut after the 206 head went resets the stream (INTERNAL_ERROR), never ends it', async () => {
  const seen: Seen[] = [];
  const up = await pausedOrigin(seen);
  const gw = await keep(
    startTestGateway(cachedPages(up.url, '{ lock_timeout: 60s, max_entry: 8MiB }'), {}, 'http2: true'),
  );
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    const stream = session.request({ ':path': '/pages/h2-cut', range: `bytes=0-${FIRST * 2 - 1}` });
    stream.on('error', () => {});
    let got = 0;
    stream.on('data', (chunk: Buffer) => {
      got += chunk.length;
    });
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
    assert.ok(up.waiting, 'the head came while the upstream still holds the rest of the body');
    assert.equal(head[':status'], 206);
    assert.equal(head['content-range'], `bytes 0-${FIRST * 2 - 1}/${LENGTH}`);
    up.reset();
    await new Promise((resolve) => stream.on('close', resolve));
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    assert.ok(got < FIRST * 2);
  } finally {
    session.destroy();
  }
  assert.deepEqual(seen, [WHOLE('/pages/h2-cut')]);
});
