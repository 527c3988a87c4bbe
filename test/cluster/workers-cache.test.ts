/**
 * One cache for every worker: `candor serve --workers 2` with a route's cache and no `cache.dir`.
 * A page stored by one worker is found by the other, and once the upstream is down its stale copy
 * stands in whichever worker takes the request: 10 users on 10 connections (spread over both
 * workers by the primary) all get the page, each saying it is stale and why. Before, each worker
 * kept its own, and the users the other worker took got a 502. The folder the workers shared is
 * gone once the gateway stops.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startMoodyOrigin } from '../helpers/moody-origin.ts';
import { startServe } from '../helpers/serve-process.ts';

test('with two workers and no cache.dir, a stale page stands in for a down upstream for 10 users of 10, whichever worker takes them', async (t) => {
  const origin = await startMoodyOrigin({ status: 200, fields: ['X-Page', 'home'], body: 'home page' });
  t.after(() => origin.stop());
  const path = join(mkdtempSync(join(tmpdir(), 'candor-workers-cache-')), 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - name: pages
    upstream: app
    cache: { lifetimes: { 200: 1s } }
upstreams:
  app:
    targets:
      - url: ${origin.url}
`,
  );
  const serve = await startServe(path, 2);
  const url = `http://127.0.0.1:${serve.port}`;
  try {
    const first = await request(url, { path: '/', headers: { 'x-request-id': 'fill' } });
    assert.equal(first.text, 'home page');
    // Past its 1 s lifetime, within the route's stale_if_error (5 minutes by default); the upstream gone.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await origin.stop();
    const answers = [];
    for (let i = 0; i < 10; i++)
      answers.push(
        await request(url, { path: '/', headers: { 'x-request-id': `user-${i}`, connection: 'close' } }),
      );
    for (const res of answers) {
      assert.equal(res.status, 200);
      assert.equal(res.text, 'home page');
      assert.equal(res.headers['x-page'], 'home');
      assert.match(
        String(res.headers['cache-status']),
        /^edge-1; hit; fwd=stale; fwd-status=502; ttl=-\d+; detail="connection_refused"$/,
      );
      assert.match(
        String(res.headers['proxy-status']),
        /^edge-1; error=connection_refused; details="connection refused \(ECONNREFUSED\) after [\d.]+ ms"; next-hop="app"$/,
      );
      assert.match(String(res.headers.age), /^\d+$/);
    }
    await serve.waitForLines('request', 11);
    const users = serve.lines.filter((l) => String(l.client_req_id).startsWith('user-'));
    assert.deepEqual(
      users.map((l) => [l.status, l.cache, l.stale_cause]),
      Array.from({ length: 10 }, () => [200, 'stale', 'connection_refused']),
    );
    // The folder the workers share, as each was told it: gone with the gateway. (The primary
    // accepts a port-0 listener's connections and hands them to its workers in turn: the 10
    // above went to both.)
    const [worker] = readFileSync(`/proc/${serve.child.pid}/task/${serve.child.pid}/children`, 'latin1')
      .trim()
      .split(' ');
    assert.ok(worker, 'a worker of the primary');
    const env = readFileSync(`/proc/${worker}/environ`, 'latin1').split('\0');
    const dir = env.find((entry) => entry.startsWith('CANDOR_WORKERS_CACHE='))?.split('=')[1];
    assert.ok(dir !== undefined && existsSync(dir), `the workers' folder: ${dir}`);
    await serve.stop();
    assert.equal(existsSync(dir), false, 'removed when the gateway stopped');
  } finally {
    await serve.stop();
  }
});
