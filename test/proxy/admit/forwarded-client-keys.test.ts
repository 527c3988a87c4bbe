/**
 * Behind a trusted L7 balancer (`trust_forwarded_from`) every per-client key judges the client
 * the balancer vouches for in X-Forwarded-For, as the IP lists do (issue 34, qa6 item 2): a
 * rate limit by client, the hash balancer's `hash_key: client` and a split's. Before, they
 * judged the balancer's own address, so every user shared one bucket, one target, one side.
 * An untrusted peer's X-Forwarded-For is still never read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const users = Array.from({ length: 24 }, (_, i) => `203.0.113.${i + 1}`);

test('rate_limit key client: behind a trusted proxy each forwarded client has its own bucket; an untrusted peer is one client', async () => {
  const echo = await startEcho();
  const yaml = (trusted: string) => `name: edge-1
trust_forwarded_from: [${trusted}]
routes:
  - name: app
    match: { path: / }
    upstream: app
    rate_limit: { rate: 0.01, burst: 1 }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`;
  const trusted = await startTestGateway(yaml('127.0.0.1'));
  const untrusted = await startTestGateway(yaml('192.0.2.1'));
  try {
    const ask = (url: string, client: string) =>
      request(url, { path: '/', headers: { 'x-forwarded-for': client } });
    assert.equal((await ask(trusted.url, '203.0.113.1')).status, 200);
    assert.equal((await ask(trusted.url, '203.0.113.2')).status, 200, "another user's own bucket");
    assert.equal((await ask(trusted.url, '203.0.113.1')).status, 429, "the first user's bucket is empty");
    // One client in any spelling a proxy writes it: the IPv4-mapped forms are the same bucket.
    assert.equal(
      (await ask(trusted.url, '::FFFF:cb00:7101')).status,
      429,
      '203.0.113.1, spelled mapped in hex',
    );
    assert.equal(
      (await ask(trusted.url, '0:0:0:0:0:ffff:203.0.113.1')).status,
      429,
      '203.0.113.1, spelled long',
    );
    // A client that is no trusted proxy cannot pick its bucket by writing X-Forwarded-For.
    assert.equal((await ask(untrusted.url, '203.0.113.1')).status, 200);
    assert.equal((await ask(untrusted.url, '203.0.113.2')).status, 429);
    // A proxy that writes only Forwarded (RFC 7239) vouches the same way; an untrusted peer's is not read.
    const askForwarded = (url: string, client: string) =>
      request(url, { path: '/', headers: { forwarded: `for="${client}"` } });
    assert.equal((await askForwarded(trusted.url, '203.0.113.3')).status, 200);
    assert.equal(
      (await askForwarded(trusted.url, '[2001:db8::4]:4711')).status,
      200,
      "another user's own bucket",
    );
    assert.equal(
      (await askForwarded(trusted.url, '203.0.113.3')).status,
      429,
      "the first user's bucket is empty",
    );
    assert.equal(
      (await askForwarded(untrusted.url, '203.0.113.5')).status,
      429,
      'the peer, whose bucket is empty',
    );
  } finally {
    await trusted.close();
    await untrusted.close();
    await echo.close();
  }
});

test("balancer hash with hash_key client: a trusted proxy's users spread over the targets, each user sticking to one", async () => {
  const a = await startEcho();
  const b = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: hash
    hash_key: client
    targets:
      - url: ${a.url}
      - url: ${b.url}
`);
  try {
    const targetOf = new Map<string, Set<string>>();
    for (const user of users)
      for (let i = 0; i < 2; i++) {
        const id = `${user}-${i}`;
        const res = await request(gw.url, {
          path: '/',
          headers: { 'x-forwarded-for': user, 'x-request-id': id },
        });
        assert.equal(res.status, 200);
        const line = await gw.logFor(id);
        const seen = targetOf.get(user) ?? new Set();
        seen.add(String(line.target));
        targetOf.set(user, seen);
      }
    for (const [user, seen] of targetOf) assert.equal(seen.size, 1, `${user} went to ${[...seen]}`);
    assert.ok(
      a.received.length > 0 && b.received.length > 0,
      `a ${a.received.length}, b ${b.received.length}`,
    );
  } finally {
    await gw.close();
    await a.close();
    await b.close();
  }
});

test("a split with hash_key client: a trusted proxy's users spread over both sides, each user sticking to one", async () => {
  const blue = await startEcho();
  const green = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: shop
    match: { path: / }
    split:
      - { upstream: blue, weight: 1 }
      - { upstream: green, weight: 1 }
    hash_key: client
upstreams:
  blue:
    targets:
      - url: ${blue.url}
  green:
    targets:
      - url: ${green.url}
`);
  try {
    const sideOf = new Map<string, Set<string>>();
    for (const user of users)
      for (let i = 0; i < 2; i++) {
        const id = `${user}-${i}`;
        await request(gw.url, { path: '/', headers: { 'x-forwarded-for': user, 'x-request-id': id } });
        const seen = sideOf.get(user) ?? new Set();
        seen.add(String((await gw.logFor(id)).upstream));
        sideOf.set(user, seen);
      }
    for (const [user, seen] of sideOf) assert.equal(seen.size, 1, `${user} went to ${[...seen]}`);
    assert.ok(
      blue.received.length > 0 && green.received.length > 0,
      `blue ${blue.received.length}, green ${green.received.length}`,
    );
  } finally {
    await gw.close();
    await blue.close();
    await green.close();
  }
});
