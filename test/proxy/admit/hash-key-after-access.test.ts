/**
 * A `hash_key: header:NAME` reads the field as access left it (issue 34, qa6 item 3), as the
 * rate limit does (fields-after-access.ts): when forward auth's `copy_headers` (or a JWT's
 * `claims_to_headers`) writes X-User-Id, the hash balancer's target and a split's side are the
 * user the auth service named, never the copy the client sent, which it may change at will.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type AuthService, startAuthService } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** An auth service that names the user its bearer token is: `Bearer user-7` is X-User-Id `user-7`. */
function startUserService(): Promise<AuthService> {
  return startAuthService((req, res) => {
    res.writeHead(204, { 'x-user-id': String(req.headers.authorization).slice('Bearer '.length) }).end();
  });
}

/**
 * Each of 24 users sends 3 requests with its token and a different forged X-User-Id each time;
 * `where` names what the request's log line says it went to. Each user must stay on one.
 */
async function placesOfUsers(
  gw: TestGateway,
  where: 'target' | 'upstream',
): Promise<Map<string, Set<string>>> {
  const places = new Map<string, Set<string>>();
  for (let user = 0; user < 24; user++)
    for (let i = 0; i < 3; i++) {
      const id = `u${user}-${i}`;
      const res = await request(gw.url, {
        path: '/app',
        headers: {
          authorization: `Bearer user-${user}`,
          'x-user-id': `forged-${user}-${i}`,
          'x-request-id': id,
        },
      });
      assert.equal(res.status, 200);
      const seen = places.get(`user-${user}`) ?? new Set<string>();
      seen.add(String((await gw.logFor(id))[where]));
      places.set(`user-${user}`, seen);
    }
  return places;
}

test("balancer hash with hash_key header:X-User-Id reads the auth service's X-User-Id, not the client's copy", async () => {
  const service = await startUserService();
  const a = await startEcho();
  const b = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward: { url: "${service.url}", copy_headers: [X-User-Id] }
upstreams:
  app:
    balancer: hash
    hash_key: header:X-User-Id
    targets:
      - url: ${a.url}
      - url: ${b.url}
`);
  try {
    const places = await placesOfUsers(gw, 'target');
    for (const [user, seen] of places) assert.equal(seen.size, 1, `${user} went to ${[...seen]}`);
    assert.ok(
      a.received.length > 0 && b.received.length > 0,
      `a ${a.received.length}, b ${b.received.length}`,
    );
    assert.equal(
      a.received[0].headers['x-user-id']?.startsWith('user-'),
      true,
      'the upstream got the service’s',
    );
  } finally {
    await gw.close();
    await a.close();
    await b.close();
    await service.close();
  }
});

test("a split with hash_key header:X-User-Id draws its side on the auth service's X-User-Id, not the client's copy", async () => {
  const service = await startUserService();
  const blue = await startEcho();
  const green = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    split:
      - { upstream: blue, weight: 1 }
      - { upstream: green, weight: 1 }
    hash_key: header:X-User-Id
    auth:
      forward: { url: "${service.url}", copy_headers: [X-User-Id] }
upstreams:
  blue:
    targets:
      - url: ${blue.url}
  green:
    targets:
      - url: ${green.url}
`);
  try {
    const places = await placesOfUsers(gw, 'upstream');
    for (const [user, seen] of places) assert.equal(seen.size, 1, `${user} went to ${[...seen]}`);
    assert.ok(
      blue.received.length > 0 && green.received.length > 0,
      `blue ${blue.received.length}, green ${green.received.length}`,
    );
  } finally {
    await gw.close();
    await blue.close();
    await green.close();
    await service.close();
  }
});
