/**
 * A GET's Range that finds nothing stored of its variant (a miss): the cache asks the upstream
 * for the whole answer (no Range, no If-Range), as nginx's proxy_cache does, stores it, and gives
 * the client its part from the store (a 206, a 416, the whole 200), or as it streams in
 * (range-miss-streaming.test.ts); a whole fetch that fails is the waiting client's failure too,
 * one whose head is slower than lock_timeout lets its Range go as sent.
 * Answers not kept: range-miss-unkept.test.ts.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import {
  BODY,
  HIT,
  MISS,
  MODIFIED,
  rangedOrigin,
  type Seen,
  type Sent,
  SIZE,
  WHOLE,
} from '../../helpers/ranged-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();
const origin = (seen: Seen[], sent: Sent[] = []) => keep(rangedOrigin(seen, sent));
const gateway = (url: string, cache = '{}', upstream = '') =>
  keep(startTestGateway(cachedPages(url, cache, 'edge-1', upstream)));

test('a Range that finds nothing stored: the whole answer is fetched once (no Range, no If-Range), stored, and the client given its 206 of it; a plain GET then hits', async () => {
  const seen: Seen[] = [];
  const gw = await gateway((await origin(seen)).url);
  const part = await request(gw.url, {
    path: '/pages/file',
    headers: { range: 'bytes=5-9', 'x-request-id': 'range-miss' },
  });
  assert.equal(part.status, 206);
  assert.equal(part.text, '56789');
  assert.equal(part.headers['content-range'], 'bytes 5-9/2000');
  assert.equal(part.headers['content-length'], '5');
  assert.equal(part.headers.etag, '"v1"');
  assert.match(String(part.headers['cache-status']), MISS);
  const line = await gw.logFor('range-miss');
  assert.equal(line.cache, 'collapsed');
  assert.equal(line.attempts, 0, "the client's request made no attempt of its own");
  await waitUntil('the whole fetch is logged', () => gw.logs.some((l) => l.background === 'fill'));
  const fill = gw.logs.find((l) => l.background === 'fill') as Record<string, unknown>;
  assert.equal(fill.for_req_id, line.req_id);
  assert.equal(fill.status, 200);
  assert.equal(fill.error, undefined);
  const whole = await request(gw.url, { path: '/pages/file' });
  assert.equal(whole.status, 200);
  assert.deepEqual(whole.body, BODY);
  assert.match(String(whole.headers['cache-status']), HIT);
  assert.deepEqual(seen, [WHOLE('/pages/file')]);
});

test('a Range miss of a suffix, one past the end, several ranges, If-Range: each from the stored whole answer (206, 416, the whole 200)', async () => {
  const seen: Seen[] = [];
  const gw = await gateway((await origin(seen)).url);
  const cases: [string, Record<string, string>, number, string | undefined, Buffer][] = [
    ['/pages/suffix', { range: 'bytes=-4' }, 206, 'bytes 1996-1999/2000', Buffer.from('ghij')],
    ['/pages/past', { range: 'bytes=2000-' }, 416, 'bytes */2000', Buffer.alloc(0)],
    ['/pages/several', { range: 'bytes=0-1,5-6' }, 200, undefined, BODY],
    ['/pages/tagged', { range: 'bytes=0-3', 'if-range': '"v1"' }, 206, 'bytes 0-3/2000', Buffer.from('0123')],
    [
      '/pages/dated',
      { range: 'bytes=0-3', 'if-range': MODIFIED },
      206,
      'bytes 0-3/2000',
      Buffer.from('0123'),
    ],
    ['/pages/retagged', { range: 'bytes=0-3', 'if-range': '"v0"' }, 200, undefined, BODY],
  ];
  for (const [path, headers, status, contentRange, body] of cases) {
    const got = await request(gw.url, { path, headers });
    assert.equal(got.status, status, path);
    assert.deepEqual(got.body, body, path);
    assert.equal(got.headers['content-range'], contentRange, path);
    assert.match(String(got.headers['cache-status']), MISS, path);
  }
  assert.deepEqual(
    seen,
    cases.map(([path]) => WHOLE(path)),
  );
});

test('concurrent Range misses of one key: one whole fetch upstream, each client its own part', async () => {
  const seen: Seen[] = [];
  let answer: (() => void) | undefined;
  const held = new Promise<void>((resolve) => {
    answer = resolve;
  });
  const up = await keep(
    listenOnLoopback(async (req, res) => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        range: req.headers.range,
        ifRange: undefined,
      });
      await held;
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': SIZE });
      res.end(BODY);
    }),
  );
  const gw = await gateway(up.url);
  const parts = [0, 100, 200, 300, 400].map((start) =>
    request(gw.url, { path: '/pages/clip', headers: { range: `bytes=${start}-${start + 9}` } }),
  );
  // The whole fetch reached the upstream; the others' requests are given a moment to arrive and wait.
  await waitUntil('the whole fetch reached the upstream', () => seen.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  answer?.();
  const got = await Promise.all(parts);
  got.forEach((part, i) => {
    const start = i * 100;
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes ${start}-${start + 9}/2000`);
    assert.deepEqual(part.body, BODY.subarray(start, start + 10));
  });
  assert.deepEqual(seen, [{ method: 'GET', path: '/pages/clip', range: undefined, ifRange: undefined }]);
});

test('a Range miss whose whole fetch fails (reset, no head in time): the client gets that failure, by the table, and the upstream is asked once', async () => {
  const seen: Seen[] = [];
  const up = await origin(seen);
  const gw = await gateway(up.url, '{}', '    timeouts: { response: 400ms }\n    retries: { attempts: 1 }\n');
  const reset = await request(gw.url, { path: '/pages/reset', headers: { range: 'bytes=0-3' } });
  assert.equal(reset.status, 502);
  assert.match(String(reset.headers['proxy-status']), /^edge-1; error=connection_terminated; /);
  assert.equal(reset.headers['cache-status'], undefined);
  const slow = await request(gw.url, { path: '/pages/hang', headers: { range: 'bytes=0-3' } });
  assert.equal(slow.status, 504);
  assert.match(String(slow.headers['proxy-status']), /^edge-1; error=http_response_timeout; /);
  assert.deepEqual(seen, [WHOLE('/pages/reset'), WHOLE('/pages/hang')]);
});

test("a Range miss whose whole fetch the upstream answers with its own 503: the Range goes upstream as sent, and the upstream's 503 is relayed", async () => {
  const seen: Seen[] = [];
  const gw = await gateway((await origin(seen)).url);
  const down = await request(gw.url, { path: '/pages/down', headers: { range: 'bytes=0-3' } });
  assert.equal(down.status, 503);
  assert.equal(down.text, 'down');
  assert.equal(down.headers['retry-after'], '5');
  assert.equal(down.headers['proxy-status'], 'edge-1; received-status=503; next-hop="app"');
  assert.deepEqual(seen, [
    WHOLE('/pages/down'),
    { method: 'GET', path: '/pages/down', range: 'bytes=0-3', ifRange: undefined },
  ]);
});

test('nothing fetched whole for a HEAD with Range, nor for only-if-cached (its 504)', async () => {
  const seen: Seen[] = [];
  const gw = await gateway((await origin(seen)).url);
  const head = await request(gw.url, {
    method: 'HEAD',
    path: '/pages/file',
    headers: { range: 'bytes=0-3' },
  });
  // Its Range dropped (RFC 9110 §14.2: head-range.test.ts): the upstream's 200 head, relayed.
  assert.equal(head.status, 200, "the upstream's answer to the HEAD, relayed");
  assert.equal(head.body.length, 0);
  const only = await request(gw.url, {
    path: '/pages/other',
    headers: { range: 'bytes=0-3', 'cache-control': 'only-if-cached' },
  });
  assert.equal(only.status, 504);
  assert.match(String(only.headers['proxy-status']), /error=/);
  assert.deepEqual(seen, [{ method: 'HEAD', path: '/pages/file', range: undefined, ifRange: undefined }]);
});

test('a compressing route: a Range miss stores the identity answer; a 206 of its bytes, or the whole answer compressed to a client that may hold a compressed copy', async () => {
  const seen: Seen[] = [];
  const up = await origin(seen);
  const gw = await keep(
    startTestGateway(cachedPages(up.url).replace('    cache: {}', '    cache: {}\n    compression: {}')),
  );
  const gzip = { 'accept-encoding': 'gzip' };
  const part = await request(gw.url, { path: '/pages/file', headers: { ...gzip, range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-encoding'], undefined);
  assert.equal(part.headers['content-range'], 'bytes 0-9/2000');
  assert.equal(part.text, '0123456789');
  assert.equal(part.headers.vary, 'Accept-Encoding');
  const resumed = await request(gw.url, {
    path: '/pages/resumed',
    headers: { ...gzip, range: 'bytes=1000-', 'if-range': MODIFIED },
  });
  assert.equal(resumed.status, 200);
  assert.equal(resumed.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(resumed.body), BODY);
  assert.match(String(resumed.headers['cache-status']), MISS);
  assert.deepEqual(seen, [WHOLE('/pages/file'), WHOLE('/pages/resumed')]);
});

test('a whole fetch whose head is slower than lock_timeout: the Range stops waiting and goes upstream as sent; the whole answer, once in, is stored', async () => {
  const seen: Seen[] = [];
  let finish: (() => void) | undefined;
  const up = await keep(
    listenOnLoopback((req, res) => {
      const range = req.headers.range;
      seen.push({ method: req.method ?? '', path: req.url ?? '', range, ifRange: undefined });
      const fields = { 'cache-control': 'max-age=600', etag: '"v1"' };
      if (range === 'bytes=0-3') {
        res.writeHead(206, { ...fields, 'content-range': 'bytes 0-3/2000', 'content-length': '4' });
        return void res.end(BODY.subarray(0, 4));
      }
      // The whole answer's head held until the test lets it go.
      finish = () => {
        res.writeHead(200, { ...fields, 'content-length': SIZE });
        res.end(BODY);
      };
    }),
  );
  const gw = await gateway(up.url, '{ lock_timeout: 300ms }');
  const part = await request(gw.url, { path: '/pages/slow-head', headers: { range: 'bytes=0-3' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, '0123');
  assert.equal(part.headers['content-range'], 'bytes 0-3/2000');
  assert.equal(part.headers['cache-status'], 'edge-1; fwd=uri-miss');
  // Both reached the upstream; on a loaded machine the whole fetch's connection may come second.
  assert.deepEqual(
    [...seen].sort((a, b) => String(a.range).localeCompare(String(b.range))),
    [
      { method: 'GET', path: '/pages/slow-head', range: 'bytes=0-3', ifRange: undefined },
      WHOLE('/pages/slow-head'),
    ],
  );
  await waitUntil('the whole fetch is under way', () => finish !== undefined);
  finish?.();
  await waitUntil('the whole fetch is logged', () => gw.logs.some((l) => l.background === 'fill'));
  const hit = await request(gw.url, { path: '/pages/slow-head', headers: { range: 'bytes=-3' } });
  assert.equal(hit.status, 206);
  assert.equal(hit.text, 'hij');
  assert.match(String(hit.headers['cache-status']), HIT);
  assert.equal(seen.length, 2);
});

test('a whole fetch whose head came in time and whose body is slower than lock_timeout: the Range is given its part as it streams in (range-miss-streaming.test.ts), nothing goes upstream twice', async () => {
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
      // The head and a first part at once, the rest held until the test lets it go.
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v1"', 'content-length': SIZE });
      res.write(BODY.subarray(0, 10));
      finish = () => res.end(BODY.subarray(10));
    }),
  );
  const gw = await gateway(up.url, '{ lock_timeout: 300ms }');
  const part = await request(gw.url, { path: '/pages/slow-body', headers: { range: 'bytes=0-3' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, '0123');
  assert.equal(part.headers['content-range'], 'bytes 0-3/2000');
  assert.match(String(part.headers['cache-status']), MISS);
  assert.deepEqual(seen, [WHOLE('/pages/slow-body')]);
  finish?.();
  await waitUntil('the whole fetch is logged', () => gw.logs.some((l) => l.background === 'fill'));
  const hit = await request(gw.url, { path: '/pages/slow-body', headers: { range: 'bytes=-3' } });
  assert.equal(hit.status, 206);
  assert.equal(hit.text, 'hij');
  assert.match(String(hit.headers['cache-status']), HIT);
  assert.deepEqual(seen, [WHOLE('/pages/slow-body')]);
});

test('HTTP/2: a Range miss is fetched whole, stored, and the client given its 206 of it', async () => {
  const seen: Seen[] = [];
  const up = await origin(seen);
  const gw = await keep(startTestGateway(cachedPages(up.url), {}, 'http2: true'));
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    const part = await new Promise<{ head: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/pages/file', range: 'bytes=-3' });
      const timer = setTimeout(() => reject(new Error('no answer within 15 s')), 15_000);
      let head: http2.IncomingHttpHeaders = {};
      let body = '';
      stream.on('response', (h) => {
        head = h;
      });
      stream.setEncoding('latin1');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('error', () => {});
      stream.on('close', () => {
        clearTimeout(timer);
        resolve({ head, body });
      });
      stream.end();
    });
    assert.equal(part.head[':status'], 206);
    assert.equal(part.body, 'hij');
    assert.equal(part.head['content-range'], 'bytes 1997-1999/2000');
    assert.match(String(part.head['cache-status']), MISS);
  } finally {
    session.destroy();
  }
  assert.deepEqual(seen, [WHOLE('/pages/file')]);
});

test('a Range that finds another variant stored (Vary): its own variant is fetched whole, stored, and its part given from it', async () => {
  const seen: { language: string | undefined; range: string | undefined }[] = [];
  const up = await keep(
    listenOnLoopback((req, res) => {
      const language = req.headers['accept-language'];
      seen.push({ language, range: req.headers.range });
      const body = language === 'fr' ? 'bonjour le monde' : 'hello world';
      res.writeHead(200, {
        'cache-control': 'max-age=600',
        vary: 'Accept-Language',
        'content-length': body.length,
      });
      res.end(body);
    }),
  );
  const gw = await gateway(up.url);
  const en = await request(gw.url, { path: '/pages/hello', headers: { 'accept-language': 'en' } });
  assert.equal(en.text, 'hello world');
  const part = await request(gw.url, {
    path: '/pages/hello',
    headers: { 'accept-language': 'fr', range: 'bytes=0-6' },
  });
  assert.equal(part.status, 206);
  assert.equal(part.text, 'bonjour');
  assert.equal(part.headers['content-range'], 'bytes 0-6/16');
  assert.match(String(part.headers['cache-status']), /^edge-1; fwd=vary-miss; ttl=\d+; collapsed$/);
  assert.deepEqual(seen, [
    { language: 'en', range: undefined },
    { language: 'fr', range: undefined },
  ]);
});
