/**
 * The identity a route's authentication admitted (issue 59, item 4), on real sockets: Basic's user,
 * a JWT's `sub` (or `identity_claim`), the field of the auth service's answer `identity_from`
 * names. Each is the access log's `user`, the upstream's `identity_header` field (the client's own
 * copies of it, in either spelling, never reach the upstream) and a plugin's `request.identity`;
 * an anonymous route logs no user and leaves the request's fields as they were.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { type AuthService, startAuthService } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** What the plugin on /plugged saw as the request's identity, by request id. */
const seen = new Map<string, string | undefined>();
/** The identity field the plugin on /basic read in its request.headers (what goes upstream), by request id. */
const seenField = new Map<string, (string | null)[]>();
const whoami: Plugin = () => ({
  onRequest(request) {
    seen.set(request.id, request.identity);
    seenField.set(request.id, [request.headers.get('x-candor-user'), request.headers.get('x_candor_user')]);
  },
});

/** The client's forged copies of the identity field, in both spellings a CGI-style app reads as one. */
const FORGED = { 'x-candor-user': 'admin', x_candor_user: 'root' };

describe('the identity a route admitted: logged, told upstream, the client copies dropped', () => {
  let echo: Fault;
  let auth: AuthService;
  let gw: TestGateway;
  let sign: (claims: Record<string, unknown>) => Promise<string>;

  before(async () => {
    const dir = tempDir('candor-identity-');
    writeFileSync(
      join(dir, 'users.htpasswd'),
      `alice:${bcrypt.hashSync('alice pass', 4)}\njosé:${bcrypt.hashSync('josé pass', 4)}\n`,
    );
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    writeFileSync(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }),
    );
    sign = (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setExpirationTime('5m')
        .sign(privateKey);
    echo = await startEcho();
    // The service lets in whoever says who they are, and names them in X-Auth-Request-User.
    auth = await startAuthService((req, res) => {
      const who = req.headers.authorization?.replace(/^Token /, '');
      if (who === undefined) res.writeHead(401).end();
      // setHeader with a list writes one line per value: two users named.
      else if (who === 'two') res.writeHead(200, { 'x-auth-request-user': ['ann', 'bob'] }).end();
      else res.writeHead(200, { 'x-auth-request-user': who }).end();
    });
    gw = await startTestGateway(
      `plugins:
  whoami: { module: /nonexistent/never-imported.ts }
routes:
  - name: basic
    match: { path: /basic }
    upstream: app
    plugins: [whoami]
    auth:
      basic: { users_file: ${join(dir, 'users.htpasswd')} }
      identity_header: X-Candor-User
  - name: jwt
    match: { path: /jwt }
    upstream: app
    auth:
      jwt: { keys_file: ${join(dir, 'jwks.json')}, algorithms: [RS256] }
      identity_header: X-Candor-User
  - name: jwt-email
    match: { path: /email }
    upstream: app
    plugins: [whoami]
    auth:
      jwt: { keys_file: ${join(dir, 'jwks.json')}, algorithms: [RS256], identity_claim: email }
  - name: forward
    match: { path: /forward }
    upstream: app
    plugins: [whoami]
    auth:
      forward: { url: "${auth.url}", identity_from: X-Auth-Request-User }
      identity_header: X-Candor-User
  - name: open
    match: { path: /open }
    upstream: app
    plugins: [whoami]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
      {},
      '',
      { plugins: { whoami } },
    );
  });

  after(async () => {
    await gw.close();
    await auth.close();
    await echo.close();
  });

  /** The request upstream's fields (the echo's last), and the access line of the answer. */
  async function through(path: string, headers: Record<string, string>) {
    const before = echo.received.length;
    const res = await request(gw.url, { path, headers: { ...FORGED, ...headers } });
    assert.equal(res.status, 200, res.text);
    assert.equal(echo.received.length, before + 1);
    const upstream = echo.received[before].headers;
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    return { upstream, line, id: res.headers['x-request-id'] as string };
  }

  test("Basic: the user name is the log's user and the upstream's X-Candor-User", async () => {
    const basic = `Basic ${Buffer.from('alice:alice pass').toString('base64')}`;
    const { upstream, line, id } = await through('/basic', { authorization: basic });
    assert.equal(line.user, 'alice');
    assert.equal(seen.get(id), 'alice', "the plugin's request.identity is the user Basic admitted");
    assert.equal(line.auth, 'allowed');
    assert.equal(upstream['x-candor-user'], 'alice');
    assert.equal(upstream.x_candor_user, undefined, "the client's _ spelling is dropped");
    assert.equal(upstream.authorization, undefined);
    assert.deepEqual(
      seenField.get(id),
      ['alice', null],
      "the plugin's request.headers hold the user told upstream, never the client's forged copies",
    );
  });

  test('Basic: a UTF-8 user name is logged as it is, and not sent (no field carries it); the forged copies still go', async () => {
    const basic = `Basic ${Buffer.from('josé:josé pass').toString('base64')}`;
    const { upstream, line } = await through('/basic', { authorization: basic });
    assert.equal(line.user, 'josé');
    assert.equal(upstream['x-candor-user'], undefined);
    assert.equal(upstream.x_candor_user, undefined);
  });

  test("JWT: sub is the log's user and the upstream's field; a token without sub names nobody, and the forged copies still go", async () => {
    const named = await through('/jwt', { authorization: `Bearer ${await sign({ sub: 'user-42' })}` });
    assert.equal(named.line.user, 'user-42');
    assert.equal(named.upstream['x-candor-user'], 'user-42');
    assert.equal(named.upstream.x_candor_user, undefined);
    const nobody = await through('/jwt', { authorization: `Bearer ${await sign({ scope: 'read' })}` });
    assert.equal(nobody.line.auth, 'allowed');
    assert.equal('user' in nobody.line, false);
    assert.equal(nobody.upstream['x-candor-user'], undefined, 'no user told, and not the client');
    assert.equal(nobody.upstream.x_candor_user, undefined);
    const number = await through('/jwt', { authorization: `Bearer ${await sign({ sub: 42 })}` });
    assert.equal('user' in number.line, false, 'a claim that is not a string names nobody');
  });

  test("JWT: a name with a space at either end is logged, not sent: the upstream's parser trims it into another user's", async () => {
    for (const sub of [' admin', 'admin ', '\tadmin']) {
      const told = await through('/jwt', { authorization: `Bearer ${await sign({ sub })}` });
      assert.equal(told.line.auth, 'allowed');
      assert.equal(told.line.user, sub);
      assert.equal(told.upstream['x-candor-user'], undefined, JSON.stringify(sub));
    }
    const inner = await through('/jwt', { authorization: `Bearer ${await sign({ sub: 'ada lovelace' })}` });
    assert.equal(inner.upstream['x-candor-user'], 'ada lovelace');
  });

  test("JWT with identity_claim: that claim is the user, and a plugin's request.identity; without identity_header the client's field passes as it is", async () => {
    const token = await sign({ sub: 'user-42', email: 'ann@example.com' });
    const { upstream, line, id } = await through('/email', { authorization: `Bearer ${token}` });
    assert.equal(line.user, 'ann@example.com');
    assert.equal(seen.get(id), 'ann@example.com');
    assert.equal(
      upstream['x-candor-user'],
      'admin',
      'no identity_header: the gateway does not own the field',
    );
  });

  test("forward auth: the service's X-Auth-Request-User is the user, not the client's copy of it", async () => {
    const { upstream, line, id } = await through('/forward', {
      authorization: 'Token bob',
      'x-auth-request-user': 'mallory',
    });
    assert.equal(line.user, 'bob');
    assert.equal(
      seen.get(id),
      'bob',
      "the plugin reads the service's user (asked before it ran), not the client's field",
    );
    assert.equal(upstream['x-candor-user'], 'bob');
    assert.equal(upstream.x_candor_user, undefined);
    assert.deepEqual(seenField.get(id), ['bob', null], "the plugin's headers are what goes upstream");
    assert.equal(
      upstream['x-auth-request-user'],
      'mallory',
      'not in copy_headers: the field itself goes upstream as the client wrote it',
    );
  });

  test('forward auth: a service answer naming two users names nobody, and the forged copies still go', async () => {
    const { upstream, line, id } = await through('/forward', { authorization: 'Token two' });
    assert.equal(line.auth, 'allowed');
    assert.ok(seen.has(id));
    assert.equal(seen.get(id), undefined, 'the plugin reads no identity either');
    assert.equal('user' in line, false);
    assert.equal(upstream['x-candor-user'], undefined);
    assert.equal(upstream.x_candor_user, undefined);
  });

  test('a route without authentication logs no user, and its plugin reads no identity', async () => {
    const { upstream, line, id } = await through('/open', {});
    assert.equal('user' in line, false);
    assert.equal('auth' in line, false);
    assert.ok(seen.has(id));
    assert.equal(seen.get(id), undefined);
    assert.equal(upstream.x_candor_user, 'root', 'the _ spelling reaches an upstream where nothing drops it');
    assert.equal(
      upstream['x-candor-user'],
      'admin',
      'an anonymous route leaves the fields as the client sent them',
    );
  });
});
