/**
 * The JWKS hop's lookup of its endpoint's name while the gateway's process is out of file
 * descriptors (RLIMIT_NOFILE lowered with prlimit to the descriptors it holds): glibc's
 * getaddrinfo, with no descriptor for /etc/hosts or its socket, says EBUSY or ENOTFOUND, and
 * fetch passes that on. It is the gateway's own want (503 `proxy_resources_exhausted`, with
 * Retry-After), never the hop's 502 `dns_error` nor a connection it "closed or reset".
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A well-formed RS256 token, good till 2100, whose key set must be fetched: its signature no key checks. */
const TOKEN = [
  Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url'),
  Buffer.from('{"sub":"x","exp":4102444800}').toString('base64url'),
  'c2ln',
].join('.');

test('no file descriptor left for the JWKS endpoint’s name lookup: the gateway’s own 503, not the hop’s dns_error', async (t) => {
  const asked: string[] = [];
  const jwks = await listenOnLoopback((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
  });
  t.after(() => jwks.close());
  const echo = await startEcho();
  t.after(() => echo.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /open }
    upstream: app
  - match: { path: /orders }
    upstream: app
    auth:
      jwt:
        jwks_url: ${jwks.url.replace('127.0.0.1', 'localhost')}/jwks.json
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  t.after(() => gw.close());
  // The client's connection is open (kept alive) before the descriptors run out.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(gw.url, '/open', agent)).status, 200);

  const release = exhaustDescriptors();
  let answer: Awaited<ReturnType<typeof get>>;
  try {
    answer = await get(gw.url, '/orders', agent, {
      authorization: `Bearer ${TOKEN}`,
      'x-request-id': 'jwks-emfile',
    });
  } finally {
    release();
  }
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['retry-after'], '1');
  assert.match(
    String(answer.headers['proxy-status']),
    /^edge-1; error=connection_limit_reached; details="the JWKS endpoint: no file descriptor left for the name lookup \(EMFILE: the process's open-file limit; the resolver said [A-Z_]+\) after [\d.]+ ms"; next-hop="auth:jwks"$/,
  );
  const line = await gw.logFor('jwks-emfile');
  assert.equal(line.auth, 'failed: proxy_resources_exhausted');
  assert.equal(line.shape, 'gateway');
  assert.deepEqual(asked, []);
  assert.equal(echo.received.length, 1, 'the /open before, alone');
});
