/**
 * A request with two Authorization field lines on a route that authenticates is a 400: the
 * field carries one credential (RFC 9110 §11.6.2; RFC 6750 §3.1's invalid_request). The gateway
 * checks the first while an upstream told the credentials (`forward_authorization`) or a
 * forward-auth service may read the last, or both joined: one credential checked, another
 * acted on. Nothing reaches the upstream or the service.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { fileIssuer } from '../../helpers/jwt-issuer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const twice = (first: string, second: string, id: string) =>
  `GET /app HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\nAuthorization: ${first}\r\nauthorization: ${second}\r\nConnection: close\r\n\r\n`;

const once = (value: string, id: string) =>
  `GET /app HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\nAuthorization: ${value}\r\nConnection: close\r\n\r\n`;

const PROXY_STATUS =
  'proxy-status: edge-1; error=http_request_error; details="the request has more than one Authorization field"';

/** A gateway whose route /app checks `scheme` and passes the credentials on to the app. */
const passingOn = (appUrl: string, scheme: string) => `name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward_authorization: true
      ${scheme}
upstreams:
  app:
    targets:
      - url: ${appUrl}
`;

function assertRefused(raw: string): void {
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.ok(raw.toLowerCase().includes(PROXY_STATUS.toLowerCase()), raw);
  assert.doesNotMatch(raw, /www-authenticate/i);
}

test('JWT with forward_authorization: a good token beside a forged one is a 400, and the upstream gets neither', async () => {
  const { file, sign } = await fileIssuer();
  const good = await sign('alice');
  const echo = await startEcho();
  const gw = await startTestGateway(passingOn(echo.url, `jwt: { keys_file: ${file}, algorithms: [ES256] }`));
  try {
    const refused = await rawRequest(
      gw.port,
      twice(`Bearer ${good}`, 'Bearer forged.admin.token', 'two-jwt'),
    );
    assertRefused(refused.raw);
    assert.equal((await gw.logFor('two-jwt')).auth, 'denied: two Authorization fields');
    assert.equal(echo.received.length, 0);
    // The same token alone goes on, as it is.
    const passed = await rawRequest(gw.port, once(`Bearer ${good}`, 'one-jwt'));
    assert.equal(passed.status, 200);
    assert.equal(echo.received.length, 1);
    assert.deepEqual(
      echo.received[0].rawHeaders.filter(([name]) => name.toLowerCase() === 'authorization'),
      [['Authorization', `Bearer ${good}`]],
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('Basic: two Authorization fields are a 400 before any password is checked', async () => {
  const users = join(tempDir('candor-two-auth-'), 'htpasswd');
  writeFileSync(users, `alice:${bcrypt.hashSync('alice pass', 4)}\n`);
  const echo = await startEcho();
  const gw = await startTestGateway(passingOn(echo.url, `basic: { users_file: ${users} }`));
  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  try {
    const refused = await rawRequest(
      gw.port,
      twice(basic('alice', 'alice pass'), basic('root', 'x'), 'two-basic'),
    );
    assertRefused(refused.raw);
    assert.equal((await gw.logFor('two-basic')).auth, 'denied: two Authorization fields');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('forward auth: two Authorization fields are a 400, the service is not asked', async () => {
  const service = await startAuthService((_req, res) => res.writeHead(200).end());
  const stage = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}", send_headers: [Authorization] }`),
  );
  try {
    const refused = await rawRequest(stage.gw.port, twice('Bearer a', 'Bearer b', 'two-forward'));
    assertRefused(refused.raw);
    assert.equal(service.asked.length, 0);
    assert.equal(stage.echo.received.length, 0);
    const passed = await rawRequest(stage.gw.port, once('Bearer a', 'one-forward'));
    assert.equal(passed.status, 200);
    assert.equal(service.asked[0].authorization, 'Bearer a');
  } finally {
    await stage.close(service);
  }
});
