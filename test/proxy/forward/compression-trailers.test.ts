/**
 * A compressing route and an upstream's trailers: a digest sent after the body (RFC 9530 §2
 * allows Content-Digest and Repr-Digest in trailers) is of the identity bytes, untrue of the
 * compressed body, and goes as the same digest in the head does; other trailers go on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const TEXT = 'Trailers come after the body. '.repeat(80);
const SHA = `sha-256=:${createHash('sha256').update(TEXT).digest('base64')}:`;

function get(gw: TestGateway, headers: http.OutgoingHttpHeaders, path = '/digest') {
  return new Promise<{ headers: http.IncomingHttpHeaders; trailers: NodeJS.Dict<string>; body: Buffer }>(
    (resolve, reject) => {
      const req = http.request(`${gw.url}${path}`, { headers: { te: 'trailers', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

test("a compressed answer drops the upstream's digest trailers (of the identity bytes); an identity one keeps them", async (t) => {
  const up = await listenOnLoopback((req, res) => {
    res.writeHead(200, {
      'content-type': 'text/plain',
      trailer: req.url === '/only-digest' ? 'Content-Digest' : 'Content-Digest, Repr-Digest, Server-Timing',
    });
    res.write(TEXT);
    res.addTrailers({ 'content-digest': SHA, 'repr-digest': SHA, 'server-timing': 'db;dur=12' });
    res.end();
  });
  t.after(() => up.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    compression: {}
upstreams:
  app:
    targets:
      - url: ${up.url}
`);
  t.after(() => gw.close());
  const compressed = await get(gw, { 'accept-encoding': 'gzip' });
  assert.equal(compressed.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(compressed.body).toString(), TEXT);
  assert.equal(compressed.trailers['content-digest'], undefined);
  assert.equal(compressed.trailers['repr-digest'], undefined);
  assert.equal(compressed.trailers['server-timing'], 'db;dur=12');
  // Its Trailer field announces what is still to come: not the digests it no longer sends.
  assert.equal(compressed.headers.trailer, 'Server-Timing');
  const identity = await get(gw, {});
  assert.equal(identity.body.toString(), TEXT);
  assert.equal(identity.headers.trailer, 'Content-Digest, Repr-Digest, Server-Timing');
  // One that announced digests alone has none: the compressed answer has no trailers to announce.
  const onlyDigest = await get(gw, { 'accept-encoding': 'gzip' }, '/only-digest');
  assert.equal(onlyDigest.headers['content-encoding'], 'gzip');
  assert.equal(onlyDigest.headers.trailer, undefined);
  assert.equal((await get(gw, {}, '/only-digest')).headers.trailer, 'Content-Digest');
  assert.equal(identity.trailers['content-digest'], SHA);
  assert.equal(identity.trailers['repr-digest'], SHA);
});
