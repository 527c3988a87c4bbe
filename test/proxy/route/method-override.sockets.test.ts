/**
 * A method-override field (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`, in
 * any spelling) names the method Rack, Laravel, Symfony and Express's method-override act on: a
 * POST to `/items/1` carrying `X-HTTP-Method-Override: DELETE` is their DELETE. A request whose
 * override takes it to another route than its own method (past a route for `DELETE` that needs
 * credentials, to an open catch-all) is refused, never forwarded; one routed the same either
 * way goes on as sent.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { h2Get, rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const received: string[] = [];
const app = await keep(
  listenOnLoopback((req, res) => {
    received.push(`${req.method} ${req.url}`);
    res.end('served');
  }),
);

const users = join(tempDir('candor-override-'), 'htpasswd');
writeFileSync(users, `alice:${bcrypt.hashSync('alice pass', 4)}\n`);

const gw = await keep(
  startTestGateway(
    `name: edge-1
routes:
  - name: item-writes
    match: { path: /items, methods: [PUT, DELETE] }
    upstream: app
    auth: { basic: { users_file: ${users} } }
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

const send = (method: string, target: string, field: string) =>
  rawRequest(
    gw.port,
    `${method} ${target} HTTP/1.1\r\nHost: gw.test\r\n${field}Content-Length: 0\r\nConnection: close\r\n\r\n`,
  );

const DETAILS =
  'details="a method-override field names a method that would take the request to another route (a server such as Rails, Laravel or Express acts on the method it names)"';

test("a method override that takes the request to another route's policy is a 400, never forwarded", async () => {
  for (const [method, field] of [
    ['POST', 'X-HTTP-Method-Override: DELETE\r\n'],
    ['POST', 'X-HTTP-Method: delete\r\n'],
    ['POST', 'X-Method-Override: PUT\r\n'],
    ['POST', 'X_HTTP_Method_Override: DELETE\r\n'],
    // `_` for some of the `-` only: HTTP_X_HTTP_METHOD_OVERRIDE all the same to Rack, PHP and WSGI.
    ['POST', 'X-HTTP_Method-Override: DELETE\r\n'],
    ['POST', 'X_Http-Method: DELETE\r\n'],
    ['POST', 'x-method_override: PUT\r\n'],
    ['GET', 'X-HTTP-Method-Override: DELETE\r\n'],
    ['POST', 'X-HTTP-Method-Override: GET\r\nX-HTTP-Method: DELETE\r\n'],
    // The method of the protected route, overridden to reach the open one.
    ['DELETE', 'X-HTTP-Method-Override: POST\r\n'],
  ]) {
    const before = received.length;
    const { raw } = await send(method, '/items/1', field);
    assert.match(raw, /^HTTP\/1\.1 400 /, `${method} ${field}`);
    assert.ok(raw.includes(`proxy-status: edge-1; error=http_request_error; ${DETAILS}`), raw);
    assert.equal(received.length, before, `${method} ${field} reached the upstream`);
  }
  for (const name of ['x-http-method-override', 'x-http_method-override']) {
    const h2 = await h2Get(gw.url, '/items/1', { [name]: 'DELETE' });
    assert.equal(h2.status, 400, name);
    assert.equal(h2.headers['proxy-status'], `edge-1; error=http_request_error; ${DETAILS}`);
  }
  assert.equal(received.length, 0);
});

test('a method override routed the same either way goes on as sent', async () => {
  const before = received.length;
  // The catch-all takes POST and PATCH alike.
  assert.equal((await send('POST', '/items/1', 'X-HTTP-Method-Override: PATCH\r\n')).status, 200);
  assert.equal((await send('POST', '/other', 'X-HTTP-Method-Override: DELETE\r\n')).status, 200);
  // An empty field names no method: frameworks ignore it.
  assert.equal((await send('POST', '/items/1', 'X-HTTP-Method-Override: \r\n')).status, 200);
  // The protected route's own requests are judged by it, overridden within it or not.
  assert.equal((await send('PUT', '/items/1', 'X-HTTP-Method-Override: DELETE\r\n')).status, 401);
  assert.deepEqual(received.slice(before), ['POST /items/1', 'POST /other', 'POST /items/1']);
});
