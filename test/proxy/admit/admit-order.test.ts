/**
 * The admit phase's order (DESIGN "How a request flows", docs/access-control.md): IP lists,
 * authentication, then maintenance and rate limits. A request access refuses takes no
 * rate-limit token, and one over its rate is still refused by access first.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const USERS = join(tempDir('candor-order-'), 'users');
writeFileSync(USERS, `alice:${bcrypt.hashSync('s3cret', 4)}\n`);
const GOOD = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;

test('authentication comes before the rate limit: 401s take no token, and past the rate a request without credentials is still a 401', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    rate_limit: { rate: 0.001, burst: 1 }
    auth:
      basic: { users_file: ${USERS} }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const ask = (authorization?: string) =>
      request(gw.url, { path: '/admin', headers: authorization ? { authorization } : {} });
    for (let i = 0; i < 3; i++) assert.equal((await ask()).status, 401);
    assert.equal((await ask(GOOD)).status, 200, 'the 401s took none of the burst of 1');
    const over = await ask(GOOD);
    assert.equal(over.status, 429);
    assert.match(
      String(over.headers['proxy-status']),
      /error=http_request_denied; details="over the rate limit/,
    );
    const anonymous = await ask();
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="restricted", charset="UTF-8"');
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
  }
});
