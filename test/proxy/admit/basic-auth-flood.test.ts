/**
 * A flood of bad Basic logins: each costs a password hash on the worker's one event loop, so
 * the checks under way are bounded (one running, PASSWORD_CHECKS_WAITING waiting) and past
 * that the gateway answers itself, 503 with Retry-After; credentials already found good are
 * remembered and pass without a hash, flood or not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { PASSWORD_CHECKS_WAITING } from '../../../src/proxy/admit/password-checks.ts';
import { rawTogether, request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { parseRaw } from '../accept/downstream-fixture.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

test('bad logins past the bound of password checks get 503 from the gateway; a remembered login passes', async () => {
  const echo = await startEcho();
  const users = join(mkdtempSync(join(tmpdir(), 'candor-flood-')), 'users');
  // The flood arrives in one read of the sockets, whatever a check costs: a cheap one keeps the test short.
  writeFileSync(users, `alice:${bcrypt.hashSync('s3cret', 6)}\n`);
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    auth:
      basic: { users_file: ${users} }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const good = { authorization: basic('alice', 's3cret') };
    assert.equal((await request(gw.url, { path: '/admin', headers: good })).status, 200);

    const flood = Array.from(
      { length: PASSWORD_CHECKS_WAITING + 30 },
      (_, i) =>
        `GET /admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept: application/json\r\nX-Request-Id: f-${i}\r\nAuthorization: ${basic('alice', `guess ${i}`)}\r\n\r\n`,
    );
    const remembered = `GET /admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: ${good.authorization}\r\n\r\n`;
    const raws = await rawTogether(gw.port, [...flood, remembered]);
    assert.equal(parseRaw(raws.pop() as string).status, 200);
    const answers = raws.map(parseRaw);

    const busy = answers.flatMap((res, i) => (res.status === 503 ? [[res, i] as const] : []));
    const refused = answers.filter((res) => res.status === 401);
    assert.equal(busy.length + refused.length, answers.length, 'every answer is a 401 or a 503');
    assert.ok(busy.length > 0, 'some logins found the bound full');
    assert.ok(refused.length <= PASSWORD_CHECKS_WAITING + 1 + 5, `${refused.length} checks were run`);
    const [res, i] = busy[0];
    const details = 'too many password checks under way (1 running, 32 waiting): try again shortly';
    assert.equal(res.headers['proxy-status'], `edge-1; error=proxy_internal_response; details="${details}"`);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['www-authenticate'], undefined);
    const problem = JSON.parse(res.body);
    assert.equal(problem.retryable, true);
    assert.equal(problem.detail.includes('too many password checks'), true, problem.detail);
    const line = await gw.logFor(`f-${i}`);
    assert.equal(line.status, 503);
    assert.equal(line.auth, 'failed: proxy_internal_response');
    // The upstream saw the two good logins only.
    assert.equal(echo.received.length, 2);
  } finally {
    await gw.close();
    await echo.close();
  }
});
