/**
 * BREACH: a compressed page that reflects a client's input beside a secret (a CSRF token, a
 * session's data) tells by its length how much of the input matched the secret. A route's
 * `compression.skip_credentialed` (default `[text/html]`) leaves such answers as they are: a
 * type it lists goes uncompressed when the request carries `Cookie` or `Authorization`, or the
 * response sets a cookie. Before, the page below, gzipped, was one byte shorter for each right
 * guess of the token's next character.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const SECRET = 'csrf_token=4f1c2a9b7e3d5c6a8b0f';

/** A page that reflects the query beside a secret: /set-cookie also sets one; /json is an API's answer. */
const app = await keep(
  listenOnLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = url.pathname === '/json';
    const page = `<html><body><p>You searched for ${url.search}</p><form>${SECRET}</form>${'<p>filler</p>'.repeat(200)}</body></html>`;
    const body = json ? JSON.stringify({ search: url.search, secret: SECRET, page }) : page;
    res.writeHead(200, {
      'content-type': json ? 'application/json' : 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...(url.pathname === '/set-cookie' ? { 'set-cookie': 'session=abc; HttpOnly; Secure' } : {}),
    });
    res.end(body);
  }),
);

async function gateway(compression: string): Promise<TestGateway> {
  return keep(
    startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    compression: ${compression}
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`),
  );
}

interface Got {
  readonly encoding: string | undefined;
  readonly vary: string | undefined;
  readonly text: string;
}

function get(gw: TestGateway, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${gw.url}${path}`,
      { agent: false, headers: { 'accept-encoding': 'gzip', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const encoding = res.headers['content-encoding'];
          resolve({
            encoding,
            vary: res.headers.vary,
            text: (encoding === 'gzip' ? zlib.gunzipSync(raw) : raw).toString(),
          });
        });
      },
    );
    req.on('error', reject);
  });
}

const defaults = await gateway('{}');

test('an anonymous page is compressed as before', async () => {
  const got = await get(defaults, '/?q=csrf_token%3D4');
  assert.equal(got.encoding, 'gzip');
  assert.match(got.text, /You searched for \?q=csrf_token%3D4/);
  assert.equal(got.vary, 'Accept-Encoding');
});

test('a page asked for with a Cookie goes uncompressed (skip_credentialed: text/html, the default)', async () => {
  const got = await get(defaults, '/?q=csrf_token%3D4', { cookie: 'session=abc' });
  assert.equal(got.encoding, undefined);
  assert.match(got.text, new RegExp(SECRET));
  assert.equal(got.vary, 'Accept-Encoding');
});

test('a page asked for with Authorization goes uncompressed', async () => {
  const got = await get(defaults, '/?q=x', { authorization: 'Bearer t0k3n' });
  assert.equal(got.encoding, undefined);
});

test('a page whose answer sets a cookie goes uncompressed, asked for without one', async () => {
  const got = await get(defaults, '/set-cookie?q=x');
  assert.equal(got.encoding, undefined);
  assert.match(got.text, new RegExp(SECRET));
});

test('a type skip_credentialed does not list is compressed with credentials (the default lists text/html alone)', async () => {
  const got = await get(defaults, '/json?q=x', { cookie: 'session=abc' });
  assert.equal(got.encoding, 'gzip');
});

test('skip_credentialed: [] compresses credentialed pages again; a list with application/json leaves those as they are', async () => {
  const off = await gateway('{ skip_credentialed: [] }');
  assert.equal((await get(off, '/?q=x', { cookie: 'session=abc' })).encoding, 'gzip');
  assert.equal((await get(off, '/set-cookie?q=x')).encoding, 'gzip');
  const api = await gateway('{ skip_credentialed: [application/json] }');
  assert.equal((await get(api, '/json?q=x', { authorization: 'Bearer t0k3n' })).encoding, undefined);
  assert.equal((await get(api, '/?q=x', { cookie: 'session=abc' })).encoding, 'gzip');
});
