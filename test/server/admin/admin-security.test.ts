/**
 * The admin API and status page as an outsider attacks them, on a real `candor serve`: every
 * route of the table but the open ones refuses a caller without the token (401 with
 * `WWW-Authenticate: Bearer`, nothing changed), a token in the query or a cookie included; a
 * browser on another origin cannot make it act (no cookie is ever set, no CORS preflight
 * passes, a cross-site form carries no bearer header); every answer says it is not to be
 * framed, sniffed or stored; the page runs no inline script; the listener is loopback unless
 * written otherwise and never without a token; bad input is a 4xx naming the problem.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { adminEndpoints } from '../../../src/server/admin/endpoints.ts';
import type { ClusterControl } from '../../../src/server/cluster/cluster-control.ts';
import { type ClientResponse, rawRequest, request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'admin-security-token-0123456789abcdef';
const dir = tempDir('candor-admin-security-');
const tokenFile = join(dir, 'token');
let app: Fault;
let serve: ServeProcess;
let adminPort: number;
let base: string;

before(async () => {
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  app = await startEcho();
  adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: security
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - name: web
    upstream: app
upstreams:
  app:
    targets: [{ url: "${app.url}" }]
`,
  );
  serve = await startServe(path, 1, { admin: true });
  base = `http://127.0.0.1:${adminPort}`;
});

after(() => closeAll(serve, app));

/** Every route of the admin table, as the primary mounts it (GET /metrics beside them). */
function everyRoute(): { method: string; path: string; open: boolean }[] {
  const table = adminEndpoints({} as ClusterControl).map((r) => ({
    method: r.method,
    path: r.path,
    open: r.open === true,
  }));
  return [...table, { method: 'GET', path: '/metrics', open: false }];
}

const call = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
  request(base, {
    method,
    path,
    headers: {
      ...headers,
      ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
    },
    body,
  });

function assertRefused(res: ClientResponse, what: string, challenge = 'Bearer realm="candor-admin"'): void {
  assert.equal(res.status, 401, what);
  assert.equal(res.headers['www-authenticate'], challenge, what);
  assert.equal(res.headers['content-type'], 'application/problem+json', what);
  assert.ok(!res.text.includes(TOKEN), `${what}: the token is not echoed`);
}

test('every route but the probes refuses a caller without the token: 401 + WWW-Authenticate: Bearer, and nothing changes', async () => {
  const closed = everyRoute().filter((r) => !r.open);
  assert.ok(closed.length >= 19, 'the whole table, writes and reads');
  for (const { method, path } of closed) {
    const body = method === 'GET' ? undefined : JSON.stringify({ route: 'web', targets: [app.url] });
    assertRefused(await call(method, path, {}, body), `${method} ${path}`);
    // The token anywhere but the Authorization header is no token: a query one would be kept in
    // logs and history, a cookie one sent by a browser on any site's behalf.
    assertRefused(
      await call(method, `${path}?token=${TOKEN}&access_token=${TOKEN}`, {}, body),
      `${method} ${path}?token=`,
    );
    assertRefused(
      await call(method, path, { cookie: `token=${TOKEN}; candor-admin-token=${TOKEN}` }, body),
      `${method} ${path} cookie`,
    );
  }
  // A few wrong ones (each spends a guess: ten are allowed), in every shape a header can be wrong.
  // A Bearer token that is not the one is told so (RFC 6750 §3.1: error="invalid_token"); another
  // scheme's credentials, or none readable, get the challenge alone (§3).
  const invalid = 'Bearer realm="candor-admin", error="invalid_token"';
  for (const [authorization, challenge] of [
    [`Bearer ${TOKEN}x`, invalid],
    [`Bearer ${TOKEN.slice(0, -1)}`, invalid],
    [`Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`, undefined],
    [`Bearer`, undefined],
    [`Bearer ${TOKEN} extra`, undefined],
  ] as const) {
    assertRefused(await call('POST', '/reload', { authorization }), authorization.split(' ')[0], challenge);
  }
  const status = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
  assert.equal(status.status, 200);
  assert.deepEqual(status.body.runtime_changes, [], 'no drain, weight or maintenance went through');
  assert.equal((status.body.last_reload as unknown) ?? null, null, 'no reload went through');
  assert.ok(
    !(JSON.stringify(serve.lines) + serve.stderr()).includes(TOKEN),
    'the token is nowhere in the log',
  );
});

test('a page on another origin cannot make a browser act: no cookie is ever set, no preflight passes, a cross-site form is refused', async () => {
  for (const path of ['/', '/status-page.js', '/status-page.css', '/live']) {
    const res = await call('GET', path);
    assert.equal(res.status, 200, path);
    assert.equal(
      res.headers['set-cookie'],
      undefined,
      `${path}: the page authenticates by header, never a cookie`,
    );
    assert.equal(res.headers['access-control-allow-origin'], undefined, path);
  }
  const authorized = await call('GET', '/status', { authorization: `Bearer ${TOKEN}` });
  assert.equal(authorized.headers['set-cookie'], undefined);
  // The preflight a cross-origin fetch with an Authorization header needs: refused, and no
  // Access-Control-Allow-* header lets the browser send the real request.
  const preflight = await call('OPTIONS', '/reload', {
    origin: 'https://evil.example',
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization',
  });
  assert.equal(preflight.status, 401);
  assert.deepEqual(
    Object.keys(preflight.headers).filter((h) => h.startsWith('access-control-')),
    [],
  );
  // What a cross-site <form method=post> sends: a simple content type, its site's Origin, the
  // browser's cookies; never an Authorization header.
  const form = await call(
    'POST',
    '/reload',
    {
      origin: 'https://evil.example',
      'sec-fetch-site': 'cross-site',
      'content-type': 'application/x-www-form-urlencoded',
      cookie: 'session=whatever',
    },
    'file=%2Fetc%2Fcandor%2Fcandor.yaml',
  );
  assertRefused(form, 'a cross-site form');
});

test('every admin answer says: not framed, not sniffed, not stored; the page also no inline script and no referrer', async () => {
  const page = await call('GET', '/');
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/);
  assert.match(csp, /(^|; )script-src 'self'(;|$)/, 'scripts from its own origin only: no inline, no eval');
  assert.match(
    csp,
    /(^|; )form-action 'none'(;|$)/,
    'the token form never submits: its token never lands in a URL',
  );
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  // The page's script is a file: the HTML holds no inline script nor handler attribute, and
  // neither file puts the token in a URL.
  assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/i);
  assert.doesNotMatch(page.text, /\son[a-z]+\s*=/i);
  // The script and every module it imports, as the browser follows them (each served open).
  const modules = new Map<string, ClientResponse>([
    ['/status-page.js', await call('GET', '/status-page.js')],
  ]);
  for (const [path, res] of modules) {
    assert.equal(res.status, 200, path);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8', path);
    for (const [, imported] of res.text.matchAll(/^import [^;]+ from '(\.[^']+)';$/gm)) {
      const next = new URL(imported as string, `http://page${path}`).pathname;
      if (!modules.has(next)) modules.set(next, await call('GET', next));
    }
  }
  assert.ok(modules.size > 5, `the script's modules: ${[...modules.keys()].join(', ')}`);
  const scripts = [...modules.values()].map((res) => res.text).join('\n');
  assert.doesNotMatch(scripts + page.text, /[?&](access_)?token=/);
  const answers: [string, ClientResponse][] = [
    ['the page', page],
    ...[...modules].map(([path, res]): [string, ClientResponse] => [`its script ${path}`, res]),
    ['a read', await call('GET', '/config', { authorization: `Bearer ${TOKEN}` })],
    ['the metrics', await call('GET', '/metrics', { authorization: `Bearer ${TOKEN}` })],
    ['a 401', await call('GET', '/status')],
    ['a 404', await call('GET', '/nothing', { authorization: `Bearer ${TOKEN}` })],
    ['a probe', await call('GET', '/ready')],
  ];
  for (const [what, res] of answers) {
    assert.equal(res.headers['x-frame-options'], 'DENY', what);
    assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/, what);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
    assert.equal(res.headers['cache-control'], 'no-store', what);
  }
});

test('the admin listener is loopback unless written otherwise, never without a token, and `candor check` warns of one beyond loopback', () => {
  const config = (admin: string, env: Record<string, string> = {}) =>
    parseConfig(
      `name: x\nlisten:\n  - address: 127.0.0.1:0\nadmin: ${admin}\nroutes:\n  - name: web\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n`,
      '<test>',
      env,
    );
  const defaults = config('{ token_env: T }', { T: TOKEN }).admin;
  assert.equal(defaults?.host, '127.0.0.1');
  assert.equal(defaults?.port, 9901);
  assert.throws(
    () => config('{ listen: "0.0.0.0:9901" }'),
    /admin: the admin API needs a token: set token_file or token_env/,
  );
  assert.throws(
    () => config('{ listen: "0.0.0.0:9901", token_env: T }', { T: '' }),
    /admin\.token_env: the environment variable T is not set/,
  );
  assert.throws(() => config('{ listen: "0.0.0.0:9901", token_env: T }', { T: 'short' }), /admin\.token_env/);
  const beyond = (listen: string) =>
    configWarnings(config(`{ listen: "${listen}", token_env: T }`, { T: TOKEN }));
  for (const listen of ['0.0.0.0:9901', '[::]:9901', '10.1.2.3:9901'])
    assert.deepEqual(beyond(listen), [
      `admin.listen: ${listen} is beyond loopback: whoever reaches it with the token controls the gateway (reloads, drains, purges, canaries); keep it on 127.0.0.1, or where only operators can reach it`,
    ]);
  for (const listen of ['127.0.0.1:9901', '127.0.0.2:9901', '[::1]:9901', 'localhost:9901'])
    assert.deepEqual(beyond(listen), [], listen);
});

test('bad input: a huge body, a wrong method, malformed JSON, an unknown path are each a 4xx naming it, and the gateway lives on', async () => {
  const auth = `Authorization: Bearer ${TOKEN}\r\n`;
  const declared = await rawRequest(
    adminPort,
    `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{"file":`,
  );
  assert.equal(declared.status, 413);
  const chunk = 'x'.repeat(16 * 1024);
  const chunked = await rawRequest(
    adminPort,
    `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Transfer-Encoding: chunked\r\n\r\n${`4000\r\n${chunk}\r\n`.repeat(5)}`,
  );
  assert.equal(chunked.status, 413);
  assert.ok(chunked.closed, 'the unread rest of the body closes the connection');

  const malformed = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN, rawBody: '{"file": ' });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.field, '(body)');
  assert.match(String(malformed.body.detail), /^the body is not JSON: /);
  const notObject = await adminCall(adminPort, 'POST', '/canary/rollback', { token: TOKEN, body: ['web'] });
  assert.equal(notObject.status, 400);

  const method = await call('GET', '/reload', { authorization: `Bearer ${TOKEN}` });
  assert.equal(method.status, 405);
  assert.equal(method.headers.allow, 'POST');
  const unknown = await call('POST', '/shutdown', { authorization: `Bearer ${TOKEN}` });
  assert.equal(unknown.status, 404);
  assert.equal(JSON.parse(unknown.text).detail, 'no admin endpoint POST /shutdown');

  assert.equal((await call('GET', '/live')).status, 200);
  assert.equal(serve.child.exitCode, null);
  assert.deepEqual(
    serve.lines.filter((l) => l.msg === 'admin endpoint failed'),
    [],
    'no input made an endpoint throw',
  );
});
