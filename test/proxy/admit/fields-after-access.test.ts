/**
 * What the gateway keys on past the access rules reads the request as they left it (issue 34):
 * a rate limit by `header:X-User-Id` on a JWT route counts each user by the claim the gateway
 * wrote (`claims_to_headers`), never by a copy the client wrote itself (which the gateway
 * removed): users behind one address do not share a bucket, and nobody drains another's by
 * sending their X-User-Id. (The cache's Vary: test/proxy/cache/cache-access-fields.test.ts.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
const keysFile = join(tempDir('candor-limit-jwt-'), 'jwks.json');
writeFileSync(keysFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
const bearer = async (sub: string) =>
  `Bearer ${await new SignJWT({ sub })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign(privateKey)}`;

const echo = await keep(startEcho());
const gw = await keep(
  startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: app
    rate_limit: { rate: 0.001, burst: 1, key: header:X-User-Id }
    auth:
      jwt: { keys_file: ${keysFile}, algorithms: [ES256], claims_to_headers: { sub: X-User-Id } }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`),
);

const status = async (sub: string, headers: Record<string, string> = {}) =>
  (await request(gw.url, { path: '/api', headers: { authorization: await bearer(sub), ...headers } })).status;

test("a rate limit by header:X-User-Id on a JWT route counts each user by the token's claim, not by the client's copy", async () => {
  assert.equal(await status('alice'), 200);
  assert.equal(await status('alice'), 429, "alice's one request is spent");
  assert.equal(await status('bob'), 200, 'bob, from the same address, has a bucket of his own');
  // Mallory's forged X-User-Id is removed: her request draws from her own bucket, not carol's.
  assert.equal(await status('mallory', { 'x-user-id': 'carol' }), 200);
  assert.equal(await status('carol'), 200, "carol's bucket is whole");
  assert.equal(await status('mallory', { 'x-user-id': 'dave' }), 429);
  const limited = echo.received.map((r) => r.headers['x-user-id']);
  assert.deepEqual(limited, ['alice', 'bob', 'mallory', 'carol']);
});

test("the client's own copies of a claim's field are all removed, whatever their case, however many", async () => {
  const { raw } = await rawRequest(
    gw.port,
    `GET /api HTTP/1.1\r\nHost: gw.test\r\nAuthorization: ${await bearer('erin')}\r\nX-USER-ID: admin\r\nx-user-id: root\r\nX-User-Id: alice\r\nConnection: close\r\n\r\n`,
  );
  assert.match(raw, /^HTTP\/1\.1 200 /);
  const seen = echo.received.at(-1)?.rawHeaders.filter(([name]) => name.toLowerCase() === 'x-user-id');
  assert.deepEqual(seen, [['X-User-Id', 'erin']]);
});

// X_User_Id is X-User-Id to a CGI-style app (WSGI, Rack: HTTP_X_USER_ID): it went upstream beside
// the claim's field, and the app read the client's value, or both joined (Puma: CVE-2024-45614).
test("the client's copies of a claim's field spelled with _ (X_User_Id, X-User_Id) are removed too", async () => {
  const { raw } = await rawRequest(
    gw.port,
    `GET /api HTTP/1.1\r\nHost: gw.test\r\nAuthorization: ${await bearer('frank')}\r\nX_User_Id: admin\r\nX-User_Id: root\r\nX_Other: kept\r\nConnection: close\r\n\r\n`,
  );
  assert.match(raw, /^HTTP\/1\.1 200 /);
  const seen = echo.received.at(-1)?.rawHeaders.filter(([name]) => /^x[-_]/i.test(name));
  assert.deepEqual(
    seen?.filter(([name]) => /user|other/i.test(name)),
    [
      ['X_Other', 'kept'],
      ['X-User-Id', 'frank'],
    ],
  );
});
