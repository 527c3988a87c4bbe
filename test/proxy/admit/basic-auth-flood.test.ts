/**
 * A flood of bad Basic logins: each costs a password hash on the worker's one event loop, so
 * the checks under way are bounded (one running, PASSWORD_CHECKS_WAITING waiting) and past
 * that the gateway answers itself, 503 with Retry-After; a client's share of them is bounded too
 * (429); the same credentials again wait for the check under way; credentials already found
 * good are remembered and pass without a hash, flood or not.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import {
  PASSWORD_CHECKS_PER_CLIENT,
  PASSWORD_CHECKS_WAITING,
} from '../../../src/proxy/admit/password-checks.ts';
import { PASSWORD_HASH_THREADS } from '../../../src/proxy/admit/password-hash-threads.ts';
import { rawTogether, request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { parseRaw } from '../accept/downstream-fixture.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

const USERS = join(tempDir('candor-flood-'), 'users');
// A flood arrives in one read of the sockets, whatever a check costs: a cheap one keeps the test short.
writeFileSync(USERS, `alice:${bcrypt.hashSync('s3cret', 6)}\n`);

/** The gateway: /admin behind Basic auth, 127.0.0.1 a proxy whose X-Forwarded-For names the client. */
const stage = (echo: string, users = USERS, routes = '') => `name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    auth:
      basic: { users_file: ${users} }
${routes}upstreams:
  app:
    targets:
      - url: ${echo}
`;

/** A login on a connection of its own (for rawTogether), `more` fields after the credentials. */
const login = (authorization: string, id: string, more = '') =>
  `GET /admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept: application/json\r\nX-Request-Id: ${id}\r\nAuthorization: ${authorization}\r\n${more}\r\n`;

test('bad logins past the bound of password checks get 503 from the gateway; a remembered login passes', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(stage(echo.url));
  try {
    const good = { authorization: basic('alice', 's3cret') };
    assert.equal((await request(gw.url, { path: '/admin', headers: good })).status, 200);

    // Each from a client of its own, as the trusted proxy in front says: the bound is the worker's.
    const flood = Array.from({ length: PASSWORD_CHECKS_WAITING + 30 }, (_, i) =>
      login(basic('alice', `guess ${i}`), `f-${i}`, `X-Forwarded-For: 198.51.100.${i + 1}\r\n`),
    );
    const remembered = login(good.authorization, 'good');
    const raws = await rawTogether(gw.port, [...flood, remembered]);
    assert.equal(parseRaw(raws.pop() as string).status, 200);
    const answers = raws.map(parseRaw);

    const busy = answers.flatMap((res, i) => (res.status === 503 ? [[res, i] as const] : []));
    const refused = answers.filter((res) => res.status === 401);
    assert.equal(busy.length + refused.length, answers.length, 'every answer is a 401 or a 503');
    assert.ok(busy.length > 0, 'some logins found the bound full');
    assert.ok(
      refused.length <= PASSWORD_CHECKS_WAITING + PASSWORD_HASH_THREADS + 5,
      `${refused.length} checks were run`,
    );
    const [res, i] = busy[0];
    const details = `password checks saturated: too many under way (${PASSWORD_HASH_THREADS} running, ${PASSWORD_CHECKS_WAITING} waiting): try again shortly`;
    assert.equal(res.headers['proxy-status'], `edge-1; error=proxy_internal_response; details="${details}"`);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['www-authenticate'], undefined);
    const problem = JSON.parse(res.body);
    assert.equal(problem.retryable, true);
    assert.equal(problem.detail.includes('password checks saturated'), true, problem.detail);
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

test("one client's logins past its share of the password checks get 429; the same credentials again wait for the check under way", async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(stage(echo.url));
  try {
    // Ten guesses from one client (no X-Forwarded-For: the peer), each another password.
    const guesses = Array.from({ length: 10 }, (_, i) => login(basic('alice', `guess ${i}`), `g-${i}`));
    const answers = (await rawTogether(gw.port, guesses)).map(parseRaw);
    const over = answers.flatMap((res, i) => (res.status === 429 ? [[res, i] as const] : []));
    assert.equal(answers.filter((res) => res.status === 401).length, PASSWORD_CHECKS_PER_CLIENT);
    assert.equal(over.length, 10 - PASSWORD_CHECKS_PER_CLIENT);
    const [res, i] = over[0];
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_denied; details="this client has 4 password checks under way already"',
    );
    assert.equal(res.headers['retry-after'], '1');
    // The client refused (the log, the access metric, `candor explain`), not the check failing.
    const line = await gw.logFor(`g-${i}`);
    assert.equal(line.auth, 'denied: basic too many password checks from this client');
    assert.equal(line.flag, 'RL');

    // A page's parallel requests with one good login: one check, every one let in.
    const page = Array.from({ length: 10 }, (_, i) => login(basic('alice', 's3cret'), `p-${i}`));
    const passed = (await rawTogether(gw.port, page)).map(parseRaw);
    assert.deepEqual(
      passed.map((res) => res.status),
      Array(10).fill(200),
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test("a client's share of the password checks is its IPv6 /64's, not one address's", async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(stage(echo.url));
  try {
    // Ten guesses, each from another address of one /64 (the trusted proxy says so): one client.
    const from = (address: string, i: number) =>
      login(basic('alice', `guess ${i}`), `v6-${i}`, `X-Forwarded-For: ${address}\r\n`);
    const rotating = Array.from({ length: 10 }, (_, i) => from(`2001:db8:1:2::${i + 1}`, i));
    const answers = (await rawTogether(gw.port, rotating)).map(parseRaw);
    assert.equal(answers.filter((res) => res.status === 401).length, PASSWORD_CHECKS_PER_CLIENT);
    assert.equal(answers.filter((res) => res.status === 429).length, 10 - PASSWORD_CHECKS_PER_CLIENT);

    // Ten from ten /64s are ten clients: each check is run (and refused by the file).
    const apart = Array.from({ length: 10 }, (_, i) => from(`2001:db8:1:${i + 10}::1`, i + 10));
    const checked = (await rawTogether(gw.port, apart)).map(parseRaw);
    assert.deepEqual(
      checked.map((res) => res.status),
      Array(10).fill(401),
    );
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a flood of bad bcrypt logins does not stall another route: requests without auth are answered while the checks wait', async () => {
  const echo = await startEcho();
  const users = join(tempDir('candor-flood-'), 'users');
  // Cost 12: a quarter of a second of CPU or more per check here, so the flood is long.
  writeFileSync(users, `slow:${bcrypt.hashSync('right', 12)}\n`);
  const open = '  - name: open\n    match: { path: /open }\n    upstream: app\n';
  const gw = await startTestGateway(stage(echo.url, users, open));
  try {
    // Six checks queued per hash thread (within the waiting bound), each from a client of its own.
    const logins = Math.min(6 * PASSWORD_HASH_THREADS, PASSWORD_CHECKS_WAITING);
    const order: string[] = [];
    const flood = Array.from({ length: logins }, (_, i) =>
      request(gw.url, {
        path: '/admin',
        headers: { authorization: basic('slow', `guess ${i}`), 'x-forwarded-for': `198.51.100.${i + 1}` },
        timeoutMs: 30_000,
      }).then((res) => order.push(`login ${res.status}`)),
    );
    // One request after another on the route without auth, while the checks run and wait: on the
    // event loop, each waited for a slice of bcrypt (up to 100 ms), so these thirty would have
    // come after the flood's last answer; off it, they do not wait for any.
    const opens = 30;
    for (let i = 0; i < opens; i++) {
      const res = await request(gw.url, { path: '/open', timeoutMs: 30_000 });
      order.push(`open ${res.status}`);
    }
    const waiting = logins - order.filter((answer) => answer.startsWith('login')).length;
    await Promise.all(flood);
    assert.deepEqual(
      order.filter((answer) => answer.startsWith('open')),
      Array(opens).fill('open 200'),
    );
    assert.ok(
      waiting > 0,
      `every check of the flood ended before the last request without auth: ${order.join(', ')}`,
    );
    assert.deepEqual(
      order.filter((answer) => answer.startsWith('login')),
      Array(logins).fill('login 401'),
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test("an unknown user's login costs a check as a known one's: a flood of them meets the same bound, 503 past it", async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(stage(echo.url));
  try {
    // No user of the file: each is checked against the decoy, on the same threads and queue.
    const flood = Array.from({ length: PASSWORD_CHECKS_WAITING + 30 }, (_, i) =>
      login(basic(`nobody-${i}`, 'guess'), `u-${i}`, `X-Forwarded-For: 198.51.100.${i + 1}\r\n`),
    );
    const answers = (await rawTogether(gw.port, flood)).map(parseRaw);
    const busy = answers.filter((res) => res.status === 503);
    assert.equal(busy.length + answers.filter((res) => res.status === 401).length, answers.length);
    assert.ok(
      busy.length > 0,
      'unknown users fill the bound as known ones do: none is refused without a hash',
    );
    assert.equal(busy[0].headers['retry-after'], '1');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});
