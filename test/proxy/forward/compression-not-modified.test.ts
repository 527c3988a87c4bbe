/**
 * An upstream's 304 without Content-Type (as most are) on a compressing route: whether its ETag
 * goes weak is told by the copy the client holds, as its If-None-Match names it. A client that
 * holds the strong tag holds an identity body (a compressed one's tag is weak): a video the
 * route never compresses kept its strong ETag on the 200, then got a weak one on every 304, and
 * a browser that took it from the 304 sent `If-Range: W/"…"`, which never matches (RFC 9110
 * §13.1.5): each seek fetched the whole video.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const BODY = 'frames '.repeat(400);

function get(url: string, headers: http.OutgoingHttpHeaders): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end();
  });
}

test("a 304 without Content-Type keeps the strong ETag the client's If-None-Match holds; a weak one held stays weak", async () => {
  const seen: (string | undefined)[] = [];
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      const type = req.url === '/video' ? 'video/mp4' : 'text/plain';
      const tag = req.url === '/video' ? '"vid1"' : '"txt1"';
      const asked = req.headers['if-none-match'];
      seen.push(asked);
      // Compared weakly (RFC 9110 §13.1.2), as an origin does for If-None-Match.
      if (asked?.split(/\s*,\s*/).some((t) => t.replace(/^W\//, '') === tag)) {
        res.writeHead(304, { etag: tag });
        return res.end();
      }
      res.writeHead(200, { 'content-type': type, etag: tag, 'content-length': BODY.length });
      res.end(BODY);
    }),
  );
  const gw = await keep(
    startTestGateway(`routes:
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`),
  );
  const accept = { 'accept-encoding': 'gzip, br' };

  const video = await get(`${gw.url}/video`, accept);
  assert.equal(video.headers['content-encoding'], undefined, 'video/mp4 is not in types');
  assert.equal(video.headers.etag, '"vid1"');
  const videoAgain = await get(`${gw.url}/video`, { ...accept, 'if-none-match': '"vid1"' });
  assert.equal(videoAgain.statusCode, 304);
  assert.equal(videoAgain.headers.etag, '"vid1"', "the 304's ETag is its 200's, strong");
  assert.equal(videoAgain.headers.vary, 'Accept-Encoding');

  const text = await get(`${gw.url}/text`, accept);
  assert.equal(text.headers['content-encoding'], 'br');
  assert.equal(text.headers.etag, 'W/"txt1"');
  const textAgain = await get(`${gw.url}/text`, { ...accept, 'if-none-match': 'W/"txt1"' });
  assert.equal(textAgain.statusCode, 304);
  assert.equal(textAgain.headers.etag, 'W/"txt1"', 'the compressed copy held: weak, as its 200 was');
  // Named weak in a list: weak, whatever else the list holds.
  const listed = await get(`${gw.url}/text`, { ...accept, 'if-none-match': '"other", W/"txt1"' });
  assert.equal(listed.statusCode, 304);
  assert.equal(listed.headers.etag, 'W/"txt1"');
  assert.deepEqual(seen, [undefined, '"vid1"', undefined, 'W/"txt1"', '"other", W/"txt1"']);
});

test('a 304 to a client that holds the tag weak (its compressed copy) stays weak, whatever else the 304 says: a Content-Length: 0 an origin sent on it', async () => {
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      if (req.headers['if-none-match'] !== undefined) {
        // RFC 9110 §8.6 allows a 304 only its 200's Content-Length; some origins send 0.
        res.writeHead(304, { etag: '"z1"', 'content-type': 'text/plain', 'content-length': '0' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/plain', etag: '"z1"', 'content-length': BODY.length });
      res.end(BODY);
    }),
  );
  const gw = await keep(
    startTestGateway(`routes:
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`),
  );
  const first = await get(`${gw.url}/page`, { 'accept-encoding': 'gzip' });
  assert.equal(first.headers['content-encoding'], 'gzip');
  assert.equal(first.headers.etag, 'W/"z1"');
  const again = await get(`${gw.url}/page`, { 'accept-encoding': 'gzip', 'if-none-match': 'W/"z1"' });
  assert.equal(again.statusCode, 304);
  // A strong tag would let the client's cache take it for its compressed copy's, and answer an
  // If-Range with that copy's bytes spliced to the identity body's.
  assert.equal(again.headers.etag, 'W/"z1"');
});

test("a 304 that stands for a compressed 200 carries none of the upstream's digests, Accept-Ranges or Content-Length of the identity body: its client's cache would put them on its compressed copy", async () => {
  const digest = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:';
  const upstream = await keep(
    listenOnLoopback((req, res) => {
      // An origin that sends its digests on every answer, a 304 too (to guide a cache's update).
      const digests = {
        'repr-digest': digest,
        'content-digest': digest,
        'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==',
      };
      if (req.headers['if-none-match'] !== undefined) {
        // Its 200's Content-Length and Accept-Ranges too (RFC 9110 §8.6 allows the one).
        res.writeHead(304, {
          etag: '"d1"',
          'accept-ranges': 'bytes',
          'content-length': BODY.length,
          ...digests,
        });
        return res.end();
      }
      res.writeHead(200, {
        'content-type': 'text/plain',
        etag: '"d1"',
        'content-length': BODY.length,
        ...digests,
      });
      res.end(BODY);
    }),
  );
  const gw = await keep(
    startTestGateway(`routes:
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`),
  );
  const first = await get(`${gw.url}/page`, { 'accept-encoding': 'gzip' });
  assert.equal(first.headers['content-encoding'], 'gzip');
  assert.equal(first.headers['repr-digest'], undefined);
  const again = await get(`${gw.url}/page`, { 'accept-encoding': 'gzip', 'if-none-match': 'W/"d1"' });
  assert.equal(again.statusCode, 304);
  assert.equal(again.headers.etag, 'W/"d1"');
  for (const name of ['repr-digest', 'content-digest', 'content-md5', 'accept-ranges', 'content-length'])
    assert.equal(again.headers[name], undefined, `${name}: of the identity body`);
  // A client that takes no coding holds the identity body: its 304 keeps them, and its strong tag.
  const plain = await get(`${gw.url}/page`, { 'if-none-match': '"d1"' });
  assert.equal(plain.statusCode, 304);
  assert.equal(plain.headers.etag, '"d1"');
  assert.equal(plain.headers['repr-digest'], digest);
  assert.equal(plain.headers['content-length'], String(BODY.length));
  assert.equal(plain.headers['accept-ranges'], 'bytes');
});
