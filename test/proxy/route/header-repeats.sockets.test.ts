/**
 * A header field a route tests (`match.headers`) sent twice: the conditions read the lines
 * joined (`1, 0`), or the first alone for a field node:http keeps once, while a server reads
 * one line: Go's Header.Get the first, others the last. `X-Debug: 1` then `X-Debug: 0` could
 * meet a route the upstream never judged so. A request whose first and last lines route apart
 * is a 400, never forwarded, over HTTP/1.1 and HTTP/2; one they route alike goes on as sent,
 * and HTTP/2's Cookie, split into a field per pair, is read joined as every server reads it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Status, rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { parseRaw } from '../accept/downstream-fixture.ts';

const keep = closeAfterAll();

const received: (string | string[] | undefined)[] = [];
const app = await keep(
  listenOnLoopback((req, res) => {
    received.push(req.headers['x-debug']);
    res.end();
  }),
);

const gw = await keep(
  startTestGateway(
    `name: edge-1
routes:
  - name: debug
    match: { path: /app, headers: { X-Debug: { regex: "^1" } } }
    upstream: app
    maintenance: { retry_after: 60s, message: Debugging is closed. }
  - name: beta
    match: { path: /beta, headers: { Cookie: { regex: "(^|; )beta=yes(;|$)" } } }
    upstream: app
    maintenance: { retry_after: 60s, message: Beta is closed. }
  - name: catch-all
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`,
    {},
    'http2: true',
  ),
);

const get = async (path: string, fields: string) =>
  parseRaw(
    (await rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${fields}Connection: close\r\n\r\n`))
      .raw,
  );

/** One HTTP/2 GET with `fields` ([name, value, …]) as separate lines: its status. */
const h2Get = (path: string, fields: string[]) => h2Status(gw.url, path, {}, fields);

test('a tested field sent twice whose first and last lines route apart is a 400, never forwarded', async () => {
  // Joined "0, 1": the catch-all, while a server reading the last line reads 1. Joined "1, 0":
  // the debug route, while Go's Header.Get reads 0.
  for (const [a, b] of [
    ['0', '1'],
    ['1', '0'],
  ]) {
    received.length = 0;
    const res = await get('/app', `X-Debug: ${a}\r\nX-Debug: ${b}\r\n`);
    assert.equal(res.status, 400, `${a} then ${b}`);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_error; details="a header field a route tests is given more than once, and its first and last lines would take the request to different routes (a server reads one of them)"',
    );
    assert.equal(await h2Get('/app', ['x-debug', a, 'x-debug', b]), 400, `${a} then ${b} over HTTP/2`);
    assert.deepEqual(received, []);
  }
});

test('a tested field sent twice that both readings route alike, or sent once as a list, goes on as sent', async () => {
  received.length = 0;
  assert.equal((await get('/app', 'X-Debug: 0\r\nX-Debug: 2\r\n')).status, 200);
  assert.equal((await get('/app', 'X-Debug: 0, 1\r\n')).status, 200, 'one line: every server reads it whole');
  assert.equal((await get('/other', 'X-Debug: 0\r\nX-Debug: 1\r\n')).status, 200, 'no route tests it there');
  assert.deepEqual(received, ['0, 2', '0, 1', '0, 1']);
  // The debug route either way: its policy applies.
  assert.equal((await get('/app', 'X-Debug: 1\r\nX-Debug: 1\r\n')).status, 503);
});

test('HTTP/2 Cookie split into a field per pair is read joined: a cookie route still takes it', async () => {
  assert.equal(await h2Get('/beta', ['cookie', 'a=1', 'cookie', 'beta=yes', 'cookie', 'z=2']), 503);
  assert.equal(await h2Get('/beta', ['cookie', 'a=1', 'cookie', 'z=2']), 200);
  assert.equal((await get('/beta', 'Cookie: a=1\r\nCookie: beta=yes\r\n')).status, 503);
});

/**
 * WSGI, Rack and PHP read `X_Debug` as `X-Debug` (both HTTP_X_DEBUG: cgi-spelling.ts), and the
 * gateway forwards a name with `_` as it came: a tested field in that spelling, alone or beside
 * the other, reached such an app through a route that never judged it (`X_Debug: 1` went to the
 * catch-all, past the debug route's policy). Refused as a repeat is when it routes apart.
 */
test('a tested field spelled with "_", which CGI-style apps read as the same field, is a 400 when it routes apart', async () => {
  received.length = 0;
  for (const fields of [
    ['X_Debug', '1'],
    ['X-Debug', '0', 'X_Debug', '1'],
    ['X_Debug', '1', 'X-Debug', '0'],
    ['x_debug', '0', 'X-Debug', '1'],
  ]) {
    const lines = fields.map((v, i) => (i % 2 === 0 ? `${v}: ` : `${v}\r\n`)).join('');
    const res = await get('/app', lines);
    assert.equal(res.status, 400, fields.join(' '));
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_error; details="a header field a route tests is also given spelled with \\"_\\", which a CGI-style server (PHP, Rack, WSGI) reads as the same field, and that reading would take the request to another route"',
      fields.join(' '),
    );
    assert.equal(
      await h2Get(
        '/app',
        fields.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v)),
      ),
      400,
      `${fields.join(' ')} over HTTP/2`,
    );
  }
  assert.deepEqual(received, []);
});

test('a tested field spelled with "_" that routes alike goes on as sent', async () => {
  received.length = 0;
  assert.equal((await get('/app', 'X_Debug: 0\r\n')).status, 200, 'the catch-all either way');
  assert.equal((await get('/other', 'X_Debug: 1\r\n')).status, 200, 'no route tests it there');
  assert.equal((await get('/app', 'X_Other: 1\r\n')).status, 200, 'not a tested field');
  assert.deepEqual(received, [undefined, undefined, undefined]);
  // The debug route either way: its policy applies.
  assert.equal((await get('/app', 'X-Debug: 1\r\nX_Debug: 1\r\n')).status, 503);
});
