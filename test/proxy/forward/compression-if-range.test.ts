/**
 * routes[].compression and a download resumed with `If-Range: <date>`: an upstream that sends
 * Last-Modified and no ETag gives the compressed 200 a strong validator the client may resume
 * with. A 206 of the identity bytes spliced into that gzip copy corrupts it, so the client gets
 * the whole answer instead (RFC 9110 §14.2: a server may ignore Range), compressed; a type the
 * route never compresses, or a client that takes no coding, still resumes with a 206.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const TEXT = Buffer.from('Candor never lies about a failure. '.repeat(120));
const MODIFIED = 'Tue, 03 Nov 2026 10:00:00 GMT';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

/** The origin: Last-Modified, no ETag; Range honoured when If-Range is its date (RFC 9110 §13.1.5). */
async function origin(seen: { path: string; range: unknown; ifRange: unknown }[], cacheControl?: string) {
  return keep(
    listenOnLoopback((req, res) => {
      seen.push({ path: req.url ?? '', range: req.headers.range, ifRange: req.headers['if-range'] });
      const type = req.url?.startsWith('/video') ? 'video/mp4' : 'text/plain';
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const ifRange = req.headers['if-range'];
      const fields = {
        'content-type': type,
        'last-modified': MODIFIED,
        'accept-ranges': 'bytes',
        ...(cacheControl === undefined ? {} : { 'cache-control': cacheControl }),
      };
      if (range !== null && (ifRange === undefined || ifRange === MODIFIED)) {
        const start = Number(range[1]);
        res.writeHead(206, {
          ...fields,
          'content-range': `bytes ${start}-${TEXT.length - 1}/${TEXT.length}`,
          'content-length': TEXT.length - start,
        });
        return res.end(TEXT.subarray(start));
      }
      res.writeHead(200, { ...fields, 'content-length': TEXT.length });
      res.end(TEXT);
    }),
  );
}

function get1(url: string, headers: http.OutgoingHttpHeaders, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(method === 'POST' ? 'form' : undefined);
  });
}

function get2(
  session: http2.ClientHttp2Session,
  path: string,
  headers: Record<string, string>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    const chunks: Buffer[] = [];
    let head: Record<string, unknown> = {};
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () =>
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }),
    );
  });
}

const RESUME = { range: 'bytes=1000-', 'if-range': MODIFIED };

/** The answers every protocol must give, `get` sending one request. */
async function resumes(
  get: (path: string, headers: Record<string, string>) => Promise<Answer>,
  seen: { range: unknown; ifRange: unknown }[],
) {
  // The compressed download, whose Last-Modified the client resumes with.
  const whole = await get('/file.txt', { 'accept-encoding': 'gzip' });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-encoding'], 'gzip');
  assert.equal(whole.headers['last-modified'], MODIFIED);
  assert.deepEqual(gunzipSync(whole.body), TEXT);

  // Resumed: the whole answer, compressed, never a 206 of identity bytes.
  seen.length = 0;
  const resumed = await get('/file.txt', { 'accept-encoding': 'gzip', ...RESUME });
  assert.equal(resumed.status, 200, 'the whole answer, not a 206 of the identity body');
  assert.equal(resumed.headers['content-range'], undefined);
  assert.equal(resumed.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(resumed.body), TEXT);
  // The 206 the upstream first gave was not relayed; the whole answer was asked for without Range.
  assert.deepEqual(
    seen.map(({ range, ifRange }) => [range, ifRange]),
    [
      ['bytes=1000-', MODIFIED],
      [undefined, undefined],
    ],
  );

  // A type the route never compresses: the identity download resumes.
  seen.length = 0;
  const video = await get('/video.mp4', { 'accept-encoding': 'gzip', ...RESUME });
  assert.equal(video.status, 206);
  assert.equal(video.headers['content-range'], `bytes 1000-${TEXT.length - 1}/${TEXT.length}`);
  assert.equal(video.headers['content-encoding'], undefined);
  assert.deepEqual(video.body, TEXT.subarray(1000));
  assert.equal(seen.length, 1, 'one request upstream');

  // A client that takes no coding held an identity copy: it resumes.
  const plain = await get('/file.txt', RESUME);
  assert.equal(plain.status, 206);
  assert.deepEqual(plain.body, TEXT.subarray(1000));

  // Cache-Control: no-transform: its copy was never compressed either.
  const untransformed = await get('/file.txt', {
    'accept-encoding': 'gzip',
    'cache-control': 'no-transform',
    ...RESUME,
  });
  assert.equal(untransformed.status, 206);
  assert.deepEqual(untransformed.body, TEXT.subarray(1000));
}

const config = (url: string) =>
  `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\n    compression: {}\nupstreams:\n  app:\n    targets:\n      - url: ${url}\n`;

test('HTTP/1.1: a compressed download resumed with If-Range: <Last-Modified> gets the whole answer, an identity one its 206', async () => {
  const seen: { path: string; range: unknown; ifRange: unknown }[] = [];
  const upstream = await origin(seen);
  const gw = await keep(startTestGateway(config(upstream.url)));
  await resumes((path, headers) => get1(`${gw.url}${path}`, headers), seen);
  // The log tells both tries: the part not relayed, then the whole answer, which the client got.
  await get1(`${gw.url}/file.txt`, { 'accept-encoding': 'gzip', 'x-request-id': 'resumed', ...RESUME });
  const line = await gw.logFor('resumed');
  // A POST's 206 (Range is a GET's, RFC 9110 §14.2) goes as it came: the POST is never sent twice.
  seen.length = 0;
  const post = await get1(`${gw.url}/file.txt`, { 'accept-encoding': 'gzip', ...RESUME }, 'POST');
  assert.equal(post.status, 206);
  assert.equal(seen.length, 1);
  assert.equal(line.status, 200);
  assert.equal(line.encoding, 'gzip');
  assert.deepEqual(
    (line.tries as { status: number; error?: string }[]).map(({ status, error }) => [status, error]),
    [
      [206, undefined],
      [200, undefined],
    ],
  );
});

test('HTTP/2: a compressed download resumed with If-Range: <Last-Modified> gets the whole answer, an identity one its 206', async () => {
  const seen: { path: string; range: unknown; ifRange: unknown }[] = [];
  const upstream = await origin(seen);
  const gw = await keep(startTestGateway(config(upstream.url), {}, 'http2: true'));
  const session = http2.connect(gw.url);
  try {
    await resumes((path, headers) => get2(session, path, headers), seen);
  } finally {
    session.close();
  }
});

test("the route's cache: a stored answer cut for If-Range: <Last-Modified> goes whole to a client that takes a coding", async () => {
  const seen: { path: string; range: unknown; ifRange: unknown }[] = [];
  const upstream = await origin(seen, 'max-age=600');
  const gw = await keep(
    startTestGateway(
      `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\n    cache: {}\n    compression: {}\nupstreams:\n  app:\n    targets:\n      - url: ${upstream.url}\n`,
    ),
  );
  for (const path of ['/file.txt', '/video.mp4']) {
    const first = await get1(`${gw.url}${path}`, { 'accept-encoding': 'gzip' });
    assert.equal(first.status, 200);
  }
  // only-if-cached: the stored answer meets the Range itself (RFC 9111 §5.2.1.7).
  const cached = { 'cache-control': 'only-if-cached', ...RESUME };
  const resumed = await get1(`${gw.url}/file.txt`, { 'accept-encoding': 'gzip', ...cached });
  assert.equal(resumed.status, 200, 'the whole stored answer, not a 206 of the identity body');
  assert.equal(resumed.headers['content-range'], undefined);
  assert.equal(resumed.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(resumed.body), TEXT);

  const video = await get1(`${gw.url}/video.mp4`, { 'accept-encoding': 'gzip', ...cached });
  assert.equal(video.status, 206);
  assert.deepEqual(video.body, TEXT.subarray(1000));
  const plain = await get1(`${gw.url}/file.txt`, cached);
  assert.equal(plain.status, 206);
  assert.deepEqual(plain.body, TEXT.subarray(1000));
  assert.equal(seen.length, 2, 'every answer after the first two from the store');

  // Without only-if-cached too, a fresh stored answer meets the Range itself: whole, compressed.
  const fresh = await get1(`${gw.url}/file.txt`, { 'accept-encoding': 'gzip', ...RESUME });
  assert.equal(fresh.status, 200);
  assert.equal(fresh.headers['content-encoding'], 'gzip');
  assert.match(String(fresh.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.deepEqual(gunzipSync(fresh.body), TEXT);
  assert.equal(seen.length, 2, 'a fresh stored answer meets the Range without the upstream');

  // Nothing stored: the whole answer is fetched for the store, once, without Range or If-Range
  // (cache-request.ts's fetchesWhole), and given whole and compressed from it, as a stored one is.
  const fetched = await get1(`${gw.url}/other.txt`, { 'accept-encoding': 'gzip', ...RESUME });
  assert.equal(fetched.status, 200);
  assert.equal(fetched.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(fetched.body), TEXT);
  assert.deepEqual(
    seen.slice(2).map(({ range, ifRange }) => [range, ifRange]),
    [[undefined, undefined]],
  );
});

test('a resume whose If-Range no longer matches: the 200 that came is compressed, the upstream asked once', async () => {
  const seen: { path: string; range: unknown; ifRange: unknown }[] = [];
  const upstream = await origin(seen);
  const gw = await keep(startTestGateway(config(upstream.url)));
  // The file changed since the client's copy (an older Last-Modified): the origin sends it whole.
  const stale = { range: 'bytes=1000-', 'if-range': 'Mon, 02 Nov 2026 10:00:00 GMT' };
  const whole = await get1(`${gw.url}/file.txt`, {
    'accept-encoding': 'gzip',
    'x-request-id': 'changed',
    ...stale,
  });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(whole.body), TEXT);
  assert.deepEqual(
    seen.map(({ range, ifRange }) => [range, ifRange]),
    [[stale.range, stale['if-range']]],
    'the whole answer came the first time: never asked for again',
  );
  const line = await gw.logFor('changed');
  assert.equal(line.encoding, 'gzip');
  assert.equal(line.tries, undefined, 'one try: the log has no list of them');
});
