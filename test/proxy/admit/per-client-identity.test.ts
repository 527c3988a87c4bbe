/**
 * `limits.per_client.key: identity` (issue 59, item 4): requests in flight counted by the user
 * the route's auth admitted, after auth, on real sockets: two users from one address each have
 * their own `requests`, a user past them gets 429 saying it is this user's, and a request no
 * auth named is counted by its address at the same point.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const basic = (user: string) => `Basic ${Buffer.from(`${user}:${user} pass`).toString('base64')}`;

test('per_client.key: identity: each user holds its own requests in flight; the 429 is this user’s; nobody is counted by address', async () => {
  const dir = tempDir('candor-per-client-identity-');
  const users = join(dir, 'users.htpasswd');
  writeFileSync(users, `alice:${bcrypt.hashSync('alice pass', 4)}\nbob:${bcrypt.hashSync('bob pass', 4)}\n`);
  // An upstream that holds every request until the test lets it go: a request stays in flight.
  const held: ServerResponse[] = [];
  let arrived = () => {};
  const app = createServer((_req, res) => {
    held.push(res);
    arrived();
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const port = (app.address() as { port: number }).port;
  const inFlight = (count: number) =>
    new Promise<void>((resolve) => {
      arrived = () => held.length >= count && resolve();
      arrived();
    });
  const gw = await startTestGateway(`limits:
  per_client: { requests: 1, key: identity }
routes:
  - match: { path: /api }
    upstream: app
    auth: { basic: { users_file: ${users} } }
  - match: { path: /open }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
    timeouts: { response: 30s }
`);
  try {
    const aliceHeld = request(gw.url, { path: '/api', headers: { authorization: basic('alice') } });
    await inFlight(1);
    // Alice has her one request in flight: her second is refused, bob's (same address) is not.
    const again = await request(gw.url, { path: '/api', headers: { authorization: basic('alice') } });
    assert.equal(again.status, 429);
    assert.equal(again.headers['retry-after'], '1');
    assert.match(
      again.headers['proxy-status'] as string,
      /error=http_request_denied; details="this user holds 1 request in flight already \(limits.per_client\)"/,
    );
    const bobHeld = request(gw.url, { path: '/api', headers: { authorization: basic('bob') } });
    await inFlight(2);
    // A request no auth named is counted by its address: one, then 429.
    const openHeld = request(gw.url, { path: '/open' });
    await inFlight(3);
    const open = await request(gw.url, { path: '/open' });
    assert.equal(open.status, 429);
    assert.match(
      open.headers['proxy-status'] as string,
      /details="this client address holds 1 request in flight/,
    );
    for (const res of held) res.end('done');
    assert.deepEqual(
      (await Promise.all([aliceHeld, bobHeld, openHeld])).map((r) => r.status),
      [200, 200, 200],
    );
    // Given back at the end of each: alice may send again.
    held.length = 0;
    const next = request(gw.url, { path: '/api', headers: { authorization: basic('alice') } });
    await inFlight(1);
    for (const res of held) res.end('done');
    assert.equal((await next).status, 200);
  } finally {
    for (const res of held) res.end();
    await closeAll(gw, app);
    rmSync(dir, { recursive: true, force: true });
  }
});
