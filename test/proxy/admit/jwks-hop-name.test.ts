/**
 * The next hop a JWKS endpoint's failure names to clients (DESIGN: an internal address only
 * where the config allows exposing it): `auth:jwks` by default, its URL's `HOST:PORT` only with
 * `errors.expose_upstream_address`; the log line's `auth_hop`, the log's warning and the status
 * page keep its address.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A well-formed RS256 token whose key set must be fetched. */
const TOKEN = [
  Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url'),
  Buffer.from('{"sub":"x","exp":4102444800}').toString('base64url'),
  'c2ln',
].join('.');

const DETAILS = 'the JWKS endpoint: [^"]*';

for (const [exposed, hop] of [
  [false, () => 'auth:jwks'],
  [true, (port: number) => `auth:127.0.0.1:${port}`],
] as const)
  test(`a JWKS endpoint that refuses is next-hop="${hop(0).replace(':0', ':PORT')}" ${exposed ? 'with' : 'without'} expose_upstream_address`, async () => {
    const refusing = await startRefusing();
    const echo = await startEcho();
    const gw = await startTestGateway(`name: edge-1
errors: { expose_upstream_address: ${exposed} }
routes:
  - match: { path: /orders }
    upstream: app
    auth:
      jwt: { jwks_url: "${refusing.url}/jwks.json" }
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
    try {
      const res = await request(gw.url, {
        path: '/orders',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          accept: 'application/json',
          'x-request-id': 'jwks-name',
        },
      });
      assert.equal(res.status, 502);
      const expected = hop(refusing.port).replaceAll('.', '\\.');
      assert.match(
        String(res.headers['proxy-status']),
        new RegExp(`^edge-1; error=connection_refused; details="${DETAILS}"; next-hop="${expected}"$`),
      );
      assert.equal(JSON.parse(res.text).next_hop, hop(refusing.port));
      assert.equal(res.text.includes(`127.0.0.1:${refusing.port}`), exposed, res.text);
      assert.equal((await gw.logFor('jwks-name')).auth_hop, `auth:127.0.0.1:${refusing.port}`);
      assert.equal(gw.gateway.status().auth_hops[`auth:127.0.0.1:${refusing.port}`].counts.failed, 1);
      assert.equal(echo.received.length, 0);
    } finally {
      await gw.close();
      await echo.close();
      await refusing.close();
    }
  });
