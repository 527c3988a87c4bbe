/**
 * balancer: hash on a real gateway: a cookie keeps a user on one target; when that target is
 * out of rotation the request goes to the next one on the ring, and the log line names the
 * target the key belongs to (hash_home).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTrustList } from '../../../src/core/net/trust.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { hashKeyOf } from '../../../src/proxy/select/hash-key.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const DEAD = 'http://127.0.0.1:1';

describe('hash balancing by cookie', () => {
  let a: Fault;
  let b: Fault;
  let gw: TestGateway;
  before(async () => {
    a = await startEcho();
    b = await startEcho();
    gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${a.url} }, { url: ${b.url} }, { url: ${DEAD} }]
    balancer: hash
    hash_key: cookie:session
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1 }
`);
  });
  after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  const send = (session: string) =>
    request(gw.url, { headers: { cookie: `theme=dark; session=${session}` } });

  test('one session, one target; a session whose target is out of rotation goes to the next on the ring, and the log says so', async () => {
    // The ring depends on the targets' ports: find a session whose own target is the dead one
    // (its first request fails and ejects it) and one whose own target is alive.
    let dead: string | undefined;
    let alive: string | undefined;
    for (let i = 0; i < 60 && (dead === undefined || alive === undefined); i++) {
      const res = await send(`user-${i}`);
      const line = await gw.logFor(String(res.headers['x-request-id']));
      if (res.status === 502) dead ??= `user-${i}`;
      else if (line.hash_home === undefined) alive ??= `user-${i}`;
    }
    assert.ok(dead !== undefined && alive !== undefined, `sessions of both kinds: ${dead}, ${alive}`);

    const targets = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const line = await gw.logFor(String((await send(alive)).headers['x-request-id']));
      targets.add(line.target);
      assert.equal(line.hash_home, undefined, 'its own target answered');
    }
    assert.equal(targets.size, 1, 'one session, one target');

    const res = await send(dead);
    assert.equal(res.status, 200);
    const line = await gw.logFor(String(res.headers['x-request-id']));
    assert.equal(line.hash_home, DEAD);
    assert.ok(line.target === a.url || line.target === b.url, String(line.target));
    const again = await gw.logFor(String((await send(dead)).headers['x-request-id']));
    assert.equal(again.target, line.target, 'the next on the ring is the same each time');
  });
});

test('the hash key: a header, a cookie, else the client address', () => {
  const req = { headers: { 'x-user': 'u1', cookie: 'a=1; sid=s-9; b=2' } };
  const untrusted = createTrustList([]);
  assert.equal(hashKeyOf({ kind: 'header', name: 'x-user' }, req, '10.0.0.1', untrusted), 'u1');
  assert.equal(hashKeyOf({ kind: 'cookie', name: 'sid' }, req, '10.0.0.1', untrusted), 's-9');
  assert.equal(hashKeyOf({ kind: 'cookie', name: 'nope' }, req, '10.0.0.1', untrusted), '10.0.0.1');
  assert.equal(hashKeyOf({ kind: 'header', name: 'x-none' }, req, '10.0.0.1', untrusted), '10.0.0.1');
  assert.equal(hashKeyOf({ kind: 'client' }, req, '10.0.0.1', untrusted), '10.0.0.1');
});
