/**
 * Access at the edge over HTTP/2 (issue 34), as over HTTP/1.1: a CORS preflight answered by the
 * gateway, the gateway's own 502 readable by the allowed origin, a missing credential's 401 with
 * its challenge, a JWT in a cookie sent in crumbs (RFC 9113 §8.2.3), a forward-auth service's
 * redirect passed on as it wrote it, an IP list's 403; each with the log's `auth`; the user basic
 * auth admitted as the log's `user` and the upstream's identity field (the client's copies dropped).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { startAuthService } from '../../helpers/auth-service.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const users = join(tempDir('candor-h2-access-'), 'users');
writeFileSync(users, `staff:${bcrypt.hashSync('s3cret', 4)}\n`);
const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
const keysFile = join(tempDir('candor-h2-jwks-'), 'jwks.json');
writeFileSync(keysFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
const echo = await keep(startEcho());
const refusing = await keep(startRefusing());
const service = await keep(
  startAuthService((_req, res) => {
    res.writeHead(302, { location: 'https://login.test/?back=%2Fsso', 'set-cookie': ['a=1', 'b=2'] });
    res.end('to the login page');
  }),
);
const gw = await keep(
  startTestGateway(
    `name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: down
    cors: { origins: ["https://app.test"], methods: [GET, PUT], headers: [x-trace], credentials: true }
  - name: staff
    match: { path: /staff }
    upstream: app
    cors: { origins: ["https://app.test"] }
    auth:
      basic: { users_file: ${users}, realm: Staff }
      identity_header: X-Candor-User
  - name: sso
    match: { path: /sso }
    upstream: app
    auth:
      forward: { url: ${service.url} }
  - name: orders
    match: { path: /orders }
    upstream: app
    auth:
      jwt: { keys_file: ${keysFile}, algorithms: [ES256], cookie: session, claims_to_headers: { sub: X-User-Id } }
  - name: lan
    match: { path: /lan }
    upstream: app
    deny: [127.0.0.0/8]
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
  down:
    targets: [{ url: ${refusing.url} }]
    retries: { attempts: 1 }
`,
    {},
    'http2: true',
  ),
);

interface H2Answer {
  readonly head: http2.IncomingHttpHeaders;
  readonly body: string;
}

function h2(path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<H2Answer> {
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':authority': 'gw.test', ...headers });
    let head: http2.IncomingHttpHeaders = {};
    let body = '';
    stream.on('response', (h) => {
      head = h;
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('error', reject);
    stream.on('close', () => {
      session.destroy();
      resolve({ head, body });
    });
    stream.end();
  });
}

test('over HTTP/2: a preflight is the gateway’s 204, and the allowed origin reads the gateway’s 502 and its Proxy-Status', async () => {
  const preflight = await h2('/api/items', {
    ':method': 'OPTIONS',
    origin: 'https://app.test',
    'access-control-request-method': 'PUT',
    'access-control-request-headers': 'X-Trace',
    'x-request-id': 'h2-preflight',
  });
  assert.equal(preflight.head[':status'], 204);
  assert.equal(preflight.head['access-control-allow-origin'], 'https://app.test');
  assert.equal(preflight.head['access-control-allow-credentials'], 'true');
  assert.equal(preflight.head['access-control-allow-methods'], 'GET, PUT');
  assert.equal(preflight.head['access-control-allow-headers'], 'x-trace');
  assert.equal((await gw.logFor('h2-preflight')).auth, 'allowed');

  const failed = await h2('/api/items', { origin: 'https://app.test', 'x-request-id': 'h2-502' });
  assert.equal(failed.head[':status'], 502);
  assert.match(String(failed.head['proxy-status']), /^edge-1; error=connection_refused; .*next-hop="down"$/);
  assert.equal(failed.head['access-control-allow-origin'], 'https://app.test');
  assert.equal(
    failed.head['access-control-expose-headers'],
    'Proxy-Status, X-Request-Id, Retry-After, WWW-Authenticate',
  );
  assert.match(String(failed.head.vary), /\bOrigin\b/);

  const stranger = await h2('/api/items', { origin: 'https://evil.test' });
  assert.equal(stranger.head[':status'], 502);
  assert.equal(stranger.head['access-control-allow-origin'], undefined);
  assert.match(String(stranger.head.vary), /\bOrigin\b/);
});

test('over HTTP/2: basic auth’s 401 has its challenge and CORS fields; good credentials pass without Authorization', async () => {
  const missing = await h2('/staff', { origin: 'https://app.test', 'x-request-id': 'h2-401' });
  assert.equal(missing.head[':status'], 401);
  assert.equal(missing.head['www-authenticate'], 'Basic realm="Staff", charset="UTF-8"');
  assert.equal(missing.head['access-control-allow-origin'], 'https://app.test');
  assert.equal((await gw.logFor('h2-401')).auth, 'denied: basic no credentials');

  const before = echo.received.length;
  const good = await h2('/staff', {
    authorization: `Basic ${Buffer.from('staff:s3cret').toString('base64')}`,
    'x-candor-user': 'admin',
    x_candor_user: 'root',
    'x-request-id': 'h2-staff',
  });
  assert.equal(good.head[':status'], 200);
  assert.equal(echo.received.length, before + 1);
  const upstream = echo.received.at(-1)?.headers;
  assert.equal(upstream?.authorization, undefined);
  // The user admitted, logged and told upstream; the client's own copies, in both spellings, dropped.
  assert.equal((await gw.logFor('h2-staff')).user, 'staff');
  assert.equal(upstream?.['x-candor-user'], 'staff');
  assert.equal(upstream?.x_candor_user, undefined);
});

test('over HTTP/2: a forward-auth service’s redirect reaches the client as it wrote it; an IP list’s refusal is 403', async () => {
  const before = echo.received.length;
  const login = await h2('/sso/home', { 'x-request-id': 'h2-302' });
  assert.equal(login.head[':status'], 302);
  assert.equal(login.head.location, 'https://login.test/?back=%2Fsso');
  assert.deepEqual(login.head['set-cookie'], ['a=1', 'b=2']);
  assert.equal(login.body, 'to the login page');
  assert.equal((await gw.logFor('h2-302')).auth, 'denied: forward 302');

  const denied = await h2('/lan', { 'x-request-id': 'h2-403' });
  assert.equal(denied.head[':status'], 403);
  assert.equal(
    denied.head['proxy-status'],
    'edge-1; error=http_request_denied; details="the client\'s address may not use this route"',
  );
  assert.equal((await gw.logFor('h2-403')).auth, 'denied: ip deny 127.0.0.0/8');
  assert.equal(echo.received.length, before);
});

test('over HTTP/2: a JWT in a cookie that came in crumbs passes, its claim replacing the client’s copy of the field', async () => {
  const token = await new SignJWT({ sub: 'user-9' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign(privateKey);
  const before = echo.received.length;
  const res = await h2('/orders', {
    cookie: ['theme=dark', `session=${token}`],
    'x-user-id': 'admin',
    'x-request-id': 'h2-jwt',
  });
  assert.equal(res.head[':status'], 200);
  assert.equal(echo.received.length, before + 1);
  assert.equal(echo.received.at(-1)?.headers['x-user-id'], 'user-9');
  assert.equal((await gw.logFor('h2-jwt')).auth, 'allowed');
});
