/**
 * A JWKS endpoint that breaks is told by the same types as an upstream would be: an answer that
 * is not HTTP at all (another service on its port) is garbage, 502 http_protocol_error naming the
 * hop, never connection_terminated (the connection did not break: an answer came); a key set cut
 * after its head is http_response_incomplete, never "before the response head".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSshBanner } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A well-formed RS256 token whose key set must be fetched (its signature no key checks). */
const TOKEN = [
  Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url'),
  Buffer.from('{"sub":"x"}').toString('base64url'),
  'c2ln',
].join('.');

test('a JWKS endpoint that answers an SSH banner is the hop’s 502 http_protocol_error', async () => {
  const [echo, ssh] = await Promise.all([startEcho(), startSshBanner()]);
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: ${ssh.url}/jwks.json
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  try {
    const res = await request(gw.url, {
      path: '/orders',
      headers: { authorization: `Bearer ${TOKEN}`, 'x-request-id': 'jwks-ssh' },
    });
    assert.equal(res.status, 502);
    assert.match(
      res.headers['proxy-status'] as string,
      new RegExp(
        `^edge-1; error=http_protocol_error; details="the JWKS endpoint: [^"]*"; next-hop="auth:127.0.0.1:${ssh.port}"$`,
      ),
    );
    assert.equal((await gw.logFor('jwks-ssh')).auth, 'failed: http_protocol_error');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await Promise.all([echo.close(), ssh.close()]);
  }
});

for (const [how, end] of [
  ['closes', 'connection lost \\(UND_ERR_SOCKET\\)'],
  ['resets', 'connection reset \\(ECONNRESET\\)'],
] as const) {
  test(`a JWKS endpoint that ${how} its connection mid key set: the hop's 502 http_response_incomplete, not "before the response head"`, async () => {
    const echo = await startEcho();
    const jwks = await startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"keys":[',
      );
      if (how === 'resets') await connection.reset();
      else await connection.end();
    });
    const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: ${jwks.url}/jwks.json
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
    try {
      const id = `jwks-cut-${how}`;
      const res = await request(gw.url, {
        path: '/orders',
        headers: { authorization: `Bearer ${TOKEN}`, 'x-request-id': id },
      });
      assert.equal(res.status, 502);
      assert.match(
        res.headers['proxy-status'] as string,
        new RegExp(
          `^edge-1; error=http_response_incomplete; details="the JWKS endpoint: response body cut short: ${end} after [\\d.]+ ms"; next-hop="auth:127.0.0.1:${jwks.port}"$`,
        ),
      );
      assert.equal((await gw.logFor(id)).auth, 'failed: http_response_incomplete');
      assert.equal(echo.received.length, 0);
    } finally {
      await gw.close();
      await Promise.all([echo.close(), jwks.close()]);
    }
  });
}
