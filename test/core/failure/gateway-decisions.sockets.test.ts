/** The gateway's own answers that need no misbehaving upstream: no route, a loop, exposure of addresses. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('a path no route claims is a 404 destination_not_found, and nothing is forwarded', async () => {
  const fault = await startEcho();
  const gw = await startTestGateway(singleUpstream(fault.url, { route: '/api' }));
  try {
    const res = await request(gw.url, {
      path: '/other?q=1',
      headers: { accept: 'application/json', 'x-request-id': 'nr' },
    });
    assert.equal(res.status, 404);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=destination_not_found; details="no route for 127\.0\.0\.1\/other"$/,
    );
    assert.equal(res.headers['cache-control'], 'no-store');
    const problem = JSON.parse(res.text);
    assert.equal(problem.error, 'destination_not_found');
    assert.equal(problem.status, 404);
    const line = await gw.logFor('nr');
    assert.equal(line.status, 404);
    assert.equal(line.error, 'destination_not_found');
    assert.equal(line.route, undefined);
    assert.equal(fault.received.length, 0);
  } finally {
    await gw.close();
    await fault.close();
  }
});

test('a request whose Via already names this gateway is a 502 proxy_loop_detected, not forwarded again', async () => {
  const fault = await startEcho();
  const gw = await startTestGateway(singleUpstream(fault.url));
  try {
    const res = await request(gw.url, { headers: { via: '1.1 cdn, 1.1 edge-1', 'x-request-id': 'loop' } });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=proxy_loop_detected;/);
    assert.equal((await gw.logFor('loop')).error, 'proxy_loop_detected');
    assert.equal(fault.received.length, 0);
    const other = await request(gw.url, { headers: { via: '1.1 edge-10' } });
    assert.equal(other.status, 200, 'a different name that merely contains ours is no loop');
  } finally {
    await gw.close();
    await fault.close();
  }
});

test('expose_upstream_address: true shows the target address as next-hop', async () => {
  const fault = await startRefusing();
  const gw = await startTestGateway(
    singleUpstream(fault.url, { extra: 'errors: { expose_upstream_address: true }' }),
  );
  try {
    const res = await request(gw.url, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      new RegExp(`; next-hop="http://127\\.0\\.0\\.1:${fault.port}"$`),
    );
    assert.equal(JSON.parse(res.text).next_hop, `http://127.0.0.1:${fault.port}`);
  } finally {
    await gw.close();
  }
});

test('the HTML error page is self-contained and escapes what it shows', async () => {
  const fault = await startRefusing();
  const gw = await startTestGateway(singleUpstream(fault.url));
  try {
    const res = await request(gw.url, { headers: { accept: 'text/html', 'x-request-id': 'id<script>' } });
    assert.equal(res.status, 502);
    assert.doesNotMatch(res.text, /<script>/, 'the id was unsafe: it is replaced, never echoed raw');
    assert.doesNotMatch(res.text, /<link|<script|src=|@import/, 'no external resources');
    assert.match(res.text, /Upstream refused the connection/);
  } finally {
    await gw.close();
  }
});

test('a client that accepts only application/xhtml+xml gets the HTML error page', async () => {
  const fault = await startRefusing();
  const gw = await startTestGateway(singleUpstream(fault.url));
  try {
    const res = await request(gw.url, {
      headers: { accept: 'application/xhtml+xml', 'x-request-id': 'xhtml' },
    });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_refused; /);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.text, /^<!doctype html>/i);
    assert.match(res.text, /Upstream refused the connection/);
  } finally {
    await gw.close();
  }
});

test("a long path's 404 quotes it cut short: the answer's head stays one a client reads (Node's takes 16 KiB)", async () => {
  const root = tempDir('candor-long-path-');
  const fault = await startEcho();
  const gw = await startTestGateway(`name: edge-1
limits: { uri_length: 32KiB }
routes:
  - { match: { path: /api }, upstream: app }
  - { match: { path: /files }, static: { root: ${root} } }
upstreams:
  app: { targets: [{ url: ${fault.url} }] }
`);
  try {
    const long = 'a'.repeat(20_000);
    for (const [path, said] of [
      [`/other/${long}?q=1`, `no route for 127.0.0.1/other/${'a'.repeat(240)}...`],
      [`/files/${long}`, `no file for /files/${'a'.repeat(249)}...`],
    ]) {
      // node:http's client, as every Node app behind the gateway reads its answers.
      const res = await request(gw.url, { path, headers: { accept: 'application/json' } });
      assert.equal(res.status, 404);
      assert.equal(
        String(res.headers['proxy-status']),
        `edge-1; error=destination_not_found; details="${said}"`,
      );
      assert.equal(JSON.parse(res.text).details, said);
    }
    assert.equal(fault.received.length, 0);
  } finally {
    await gw.close();
    await fault.close();
    rmSync(root, { recursive: true, force: true });
  }
});
