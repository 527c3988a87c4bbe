/**
 * `rate_limit.key: identity` (issue 59, item 4): one bucket per user the route's auth admitted,
 * whatever address they come from, on real sockets; the loader refuses it where auth names nobody.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const basic = (user: string) => `Basic ${Buffer.from(`${user}:${user} pass`).toString('base64')}`;

test('rate_limit.key: identity gives each user a bucket of their own; the 429 says it is this user’s', async () => {
  const dir = tempDir('candor-identity-rate-');
  const users = join(dir, 'users.htpasswd');
  writeFileSync(users, `alice:${bcrypt.hashSync('alice pass', 4)}\nbob:${bcrypt.hashSync('bob pass', 4)}\n`);
  const echo = await startEcho();
  const gw = await startTestGateway(`routes:
  - name: api
    match: { path: / }
    upstream: app
    auth: { basic: { users_file: ${users} } }
    rate_limit: { rate: 0.01, burst: 1, key: identity }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    // All from one address (127.0.0.1): keyed by client, bob would meet alice's empty bucket.
    assert.equal((await request(gw.url, { headers: { authorization: basic('alice') } })).status, 200);
    const again = await request(gw.url, { headers: { authorization: basic('alice') } });
    assert.equal(again.status, 429);
    assert.match(again.headers['proxy-status'] as string, /details="[^"]*for this user"/);
    assert.equal((await request(gw.url, { headers: { authorization: basic('bob') } })).status, 200);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('the loader refuses rate_limit.key: identity on a route without auth, or whose forward auth names nobody', () => {
  const problems = (route: string) => {
    try {
      parseConfig(
        `listen:\n  - address: 127.0.0.1:0\nroutes:\n  - name: api\n    match: { path: / }\n    upstream: app\n${route}upstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n`,
        '<test>',
        {},
      );
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems.map((p) => `${p.path}: ${p.message}`);
    }
  };
  assert.deepEqual(problems('    rate_limit: { rate: 1, key: identity }\n'), [
    "routes[0].rate_limit.key: identity is the user the route's auth admitted, and this route has no auth: every request would be limited by its address",
  ]);
  assert.deepEqual(
    problems(
      '    auth: { forward: { url: "http://127.0.0.1:9/check" } }\n    rate_limit: { rate: 1, key: identity }\n',
    ),
    [
      "routes[0].rate_limit.key: identity is the user the route's auth admitted, and its forward auth names nobody: set auth.forward.identity_from",
    ],
  );
  assert.deepEqual(
    problems(
      '    auth: { forward: { url: "http://127.0.0.1:9/check", identity_from: X-User } }\n    rate_limit: { rate: 1, key: identity }\n',
    ),
    [],
  );
});

test('a user named like the hash of a long user name has a bucket of their own, not that user’s', async () => {
  // A name past 64 characters is keyed by its SHA-256 (base64): a user whose name is that text
  // drew from the same bucket, and one user's requests spent the other's tokens.
  const long = 'carol'.padEnd(70, 'x');
  const hashed = createHash('sha256').update(long).digest('base64');
  const dir = tempDir('candor-identity-rate-');
  const users = join(dir, 'users.htpasswd');
  writeFileSync(
    users,
    `${long}:${bcrypt.hashSync(`${long} pass`, 4)}\n${hashed}:${bcrypt.hashSync(`${hashed} pass`, 4)}\n`,
  );
  const echo = await startEcho();
  const gw = await startTestGateway(`routes:
  - name: api
    match: { path: / }
    upstream: app
    auth: { basic: { users_file: ${users} } }
    rate_limit: { rate: 0.01, burst: 1, key: identity }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    assert.equal((await request(gw.url, { headers: { authorization: basic(long) } })).status, 200);
    const other = await request(gw.url, {
      headers: { authorization: basic(hashed), 'x-request-id': 'hashed-name' },
    });
    assert.equal(other.status, 200, 'another user: a full bucket of their own');
    assert.equal(echo.received.length, 2);
    const again = await request(gw.url, { headers: { authorization: basic(long) } });
    assert.equal(again.status, 429, 'the long-named user’s own bucket is spent');
    assert.match(again.headers['proxy-status'] as string, /details="[^"]*for this user"/);
    assert.equal(echo.received.length, 2, 'the refused request reached nobody');
  } finally {
    await gw.close();
    await echo.close();
  }
});
