/**
 * HEAD on the admin API is GET without the body (RFC 9110 §9.3.2: a server answers HEAD as it
 * would GET), on the open routes too: a load balancer or a monitor that probes `HEAD /ready`
 * was told 401 "this call needs the admin token" (a lie: GET needs none) and logged as a
 * refused caller; a HEAD with the token was a 405 whose Allow did not list HEAD. And a write
 * that names one target twice is refused, not echoed whole while the last entry won; a
 * maintenance retry_after past the config's bound (1e21, sent as `Retry-After: 1e+21`) too.
 * GET /status names the hash of the config in force, not the first worker's; a reload while
 * the gateway drains is a 409 that reads nothing, not a refused file. The real admin
 * endpoints and status page over the primary's control, on a real socket.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { configHash } from '../../../src/core/config/config-hash.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type AdminServer, startAdminServer } from '../../../src/server/admin/admin-server.ts';
import { adminEndpoints } from '../../../src/server/admin/endpoints.ts';
import { statusPageRoutes } from '../../../src/server/admin/status-page.ts';
import { ClusterControl } from '../../../src/server/cluster/cluster-control.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { adminCall } from '../../helpers/serve-process.ts';

const TOKEN = 'admin-methods-token-0123456789abcdef';
const lines: Record<string, unknown>[] = [];
let server: AdminServer;
let hash: string;
let control: ClusterControl;

before(async () => {
  const config = parseConfig(
    'name: methods\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n  - name: web\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n',
    '<test>',
    {},
  );
  const logger = createLoggerOn(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    }),
    'info',
    'methods',
  );
  hash = configHash(config);
  control = new ClusterControl('<test>', config, logger);
  control.serving = true;
  server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    allowedHosts: [],
    routes: [...adminEndpoints(control), ...statusPageRoutes()],
    logger,
  });
});

after(() => server?.close());

/** One request as sent; its status, head (lower-cased names) and body. */
async function send(method: string, path: string, token?: string) {
  const auth = token === undefined ? '' : `Authorization: Bearer ${token}\r\n`;
  const { raw } = await rawRequest(
    server.port(),
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Connection: close\r\n\r\n`,
  );
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).toLowerCase();
  return { status: Number(raw.split(' ')[1]), head, body: raw.slice(split + 4) };
}

test('HEAD of an open route (the probes, the status page) answers as GET does, without the body and without the token', async () => {
  for (const path of ['/live', '/ready', '/', '/status-page.js']) {
    const get = await send('GET', path);
    const head = await send('HEAD', path);
    assert.equal(get.status, 200, path);
    assert.equal(head.status, 200, `${path}: ${head.head}`);
    assert.equal(/content-type: .*/.exec(head.head)?.[0], /content-type: .*/.exec(get.head)?.[0], path);
    assert.equal(head.body, '', path);
  }
  assert.deepEqual(
    lines.filter((l) => l.msg === 'admin unauthorized'),
    [],
    'a HEAD probe is no refused caller',
  );
});

test('HEAD of a route behind the token needs it, as GET does; with it, the head of GET', async () => {
  const refused = await send('HEAD', '/config');
  assert.equal(refused.status, 401);
  assert.match(refused.head, /\r\nwww-authenticate: bearer realm="candor-admin"/);
  const answered = await send('HEAD', '/config', TOKEN);
  assert.equal(answered.status, 200);
  assert.match(answered.head, /\r\ncontent-type: application\/json/);
  assert.equal(answered.body, '');
});

test('405 lists HEAD beside GET in Allow; a write route’s Allow stays its own method', async () => {
  const reload = await send('GET', '/reload', TOKEN);
  assert.equal(reload.status, 405);
  assert.match(reload.head, /\r\nallow: post\r\n/);
  const status = await send('DELETE', '/status', TOKEN);
  assert.equal(status.status, 405);
  assert.match(status.head, /\r\nallow: get, head\r\n/);
  assert.equal(
    JSON.parse(status.body.replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, '')).detail,
    '/status takes GET, HEAD',
  );
});

test('PUT /targets/weights naming one target twice is a 400 naming the second: the answer would echo both and the last win', async () => {
  const target = 'http://127.0.0.1:9';
  for (const twice of [target, 'http://127.0.0.1:9/']) {
    const { status, body } = await adminCall(server.port(), 'PUT', '/targets/weights', {
      token: TOKEN,
      body: {
        upstream: 'app',
        weights: [
          { target, weight: 0 },
          { target: twice, weight: 5 },
        ],
      },
    });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.field, 'weights[1].target');
    assert.equal(body.detail, `weights[1].target: ${twice} is the target weights[0] names already`);
  }
});

test('PUT /routes/maintenance refuses a retry_after no Retry-After can carry: a 400 naming it, as the config bounds its own', async () => {
  const set = (retry_after: number) =>
    adminCall(server.port(), 'PUT', '/routes/maintenance', {
      token: TOKEN,
      body: { route: 'web', enabled: true, retry_after },
    });
  // 1e21 would be sent as `Retry-After: 1e+21`, which is no delay-seconds (RFC 9110 §10.2.3).
  for (const retryAfter of [1e21, 596 * 3600 + 1]) {
    const { status, body } = await set(retryAfter);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.field, 'retry_after');
    assert.equal(
      body.detail,
      'retry_after: expected whole seconds, from 1 to 2145600 (596h, as routes[].maintenance.retry_after)',
    );
  }
  assert.equal((await set(596 * 3600)).status, 200);
});

test("GET /status's config.hash is the config in force's, as its version and GET /config are: not a worker's, nor null while none answers", async () => {
  // No worker here: as at start before the first answers, or with every worker stalled.
  const { status, body } = await adminCall(server.port(), 'GET', '/status', { token: TOKEN });
  assert.equal(status, 200);
  assert.deepEqual(body.config, { source: '<test>', hash, version: 1 });
});

test('POST /reload while the gateway drains is a 409 that reads nothing, not a 400 "Invalid config" for a file never read', async () => {
  control.draining = true;
  try {
    const { status, body } = await adminCall(server.port(), 'POST', '/reload', { token: TOKEN });
    assert.equal(status, 409, JSON.stringify(body));
    assert.equal(body.title, 'Draining');
    // A title of its own names its problem type (RFC 9457 §3.1.1): about:blank's title would be "Conflict".
    assert.equal(body.type, 'urn:candor:admin:draining');
    assert.equal((body.reload as { result: string }).result, 'draining');
    const status_ = await adminCall(server.port(), 'GET', '/status', { token: TOKEN });
    assert.equal(status_.body.last_reload, null, 'no refused file is reported');
  } finally {
    control.draining = false;
  }
});

test('a body past the bound is a 413 that closes the connection, whose unread rest would hold it: never one kept alive', async () => {
  const auth = `Authorization: Bearer ${TOKEN}\r\n`;
  const big = `{"upstream":"${'x'.repeat(100 * 1024)}"}`;
  const next = 'GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  // Sent whole (chunked), then a second request on the same connection, as a client's pool would.
  const chunked = await rawRequest(
    server.port(),
    `PUT /targets/weights HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Transfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n${next}`,
  );
  // Declared too large: refused before any of it is read.
  const declared = await rawRequest(
    server.port(),
    `PUT /targets/weights HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Length: 10000000\r\n\r\n{"upstream":`,
  );
  for (const { raw, status, closed } of [chunked, declared]) {
    assert.equal(status, 413, raw.slice(0, 300));
    const head = raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
    assert.match(head, /\r\nconnection: close\r\n/);
    assert.doesNotMatch(head, /keep-alive/);
    assert.equal(closed, true, 'the server closes the connection');
    assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, 'nothing else is answered on it');
  }
});

test('a path that begins "//" is that path, no endpoint: not the endpoint after a made-up host ("//x/reload" reloaded, "//status" was the status page)', async () => {
  for (const [method, path] of [
    ['GET', '//status'],
    ['POST', '//x/reload'],
    ['GET', '//live'],
  ] as const) {
    const { status, body } = await send(method, path, TOKEN);
    assert.equal(status, 404, `${method} ${path}`);
    assert.match(body, new RegExp(`"detail": "no admin endpoint ${method} ${path}"`));
  }
  assert.equal((await send('GET', 'http://127.0.0.1/live')).status, 200, 'absolute-form is read as written');
  assert.equal((await send('GET', 'live', TOKEN)).status, 400, 'a target with no slash is none');
  const status = await adminCall(server.port(), 'GET', '/status', { token: TOKEN });
  assert.equal(status.body.last_reload, null, 'nothing was reloaded');
});

test('a method an open path does not take is a 405 to anyone: not a 401 saying the token would make it work', async () => {
  for (const path of ['/live', '/ready', '/status-page.js']) {
    const refused = await send('POST', path);
    assert.equal(refused.status, 405, path);
    assert.match(refused.head, /\r\nallow: get, head\r\n/);
    assert.doesNotMatch(refused.head, /www-authenticate/);
  }
  // A path behind the token still needs it before its methods are told.
  assert.equal((await send('DELETE', '/status')).status, 401);
});
