/**
 * Stale on error when the gateway's own machine is out of what a connection needs (no file
 * descriptor: a real EMFILE, the process's open-file limit lowered with prlimit): the gateway's own
 * 503 `proxy_resources_exhausted`, whose Proxy-Status type is RFC 9209's connection_limit_reached
 * as a full pool's is, lets a stored answer stand in as a full pool's 503 does (RFC 5861 §4: any
 * error that would be a 500, 502, 503 or 504), saying so. It gave the 503, the page in the store.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('no file descriptor left for the upstream connect: the stored answer stands in, with Cache-Status fwd=stale and Proxy-Status naming the failure', async (t) => {
  // Connection: close: the gateway keeps no upstream connection, so each request needs a new one.
  const upstream = await listenOnLoopback((_req, res) => {
    res.writeHead(200, {
      connection: 'close',
      'cache-control': 'max-age=0, stale-if-error=60',
      etag: '"v1"',
    });
    res.end('stored page');
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    retries: { attempts: 1 }
    targets:
      - url: ${upstream.url}
`);
  t.after(() => gw.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await get(gw.url, '/pages/home', agent);
  assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');

  const release = exhaustDescriptors();
  let stale: Awaited<ReturnType<typeof get>>;
  try {
    stale = await get(gw.url, '/pages/home', agent, { 'x-request-id': 'exhausted' });
  } finally {
    release();
  }
  assert.equal(stale.status, 200);
  assert.equal(stale.text, 'stored page');
  assert.match(String(stale.headers.age), /^\d+$/);
  assert.match(
    String(stale.headers['cache-status']),
    /^edge-1; hit; fwd=stale; fwd-status=503; ttl=-?\d+; detail="proxy_resources_exhausted"$/,
  );
  assert.match(
    String(stale.headers['proxy-status']),
    /^edge-1; error=connection_limit_reached; details="no file descriptor left for the connection \(EMFILE: the process's open-file limit\) after [\d.]+ ms"; next-hop="app"$/,
  );
  const line = await gw.logFor('exhausted');
  assert.equal(line.status, 200);
  assert.equal(line.cache, 'stale');
  assert.equal(line.stale_cause, 'proxy_resources_exhausted');
  assert.equal(line.error, 'proxy_resources_exhausted');
});
