/**
 * A plugin's `onResponse` that waits holds the upstream's head: the route's total timeout, which
 * bounds the wait for that head ("from forwarding to the response head"), is over once it came. It
 * passed while the hook waited (within the plugin's own `timeout`), and the gateway answered 504
 * "no response head within the total timeout" naming the upstream, which had answered at once, and
 * judged its target (ejected, the circuit opened): a plugin made the gateway lie about a failure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/**
 * An echo upstream behind a route whose plugin's onResponse waits twice the total timeout (the
 * deadline's timer is due while it holds the head), one failure enough to eject and open.
 */
async function heldRoute(timeouts: string) {
  const app = await startEcho();
  const held: Plugin = () => ({
    async onResponse(response) {
      await sleep(600);
      response.headers.set('x-held', 'yes');
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  held: { module: /nonexistent/held.ts, timeout: 5s }
routes:
  - { match: { path: / }, upstream: app, plugins: [held] }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
    timeouts: ${timeouts}
    outlier_detection: { consecutive_failures: 1 }
    circuit_breaker: { consecutive_failures: 1 }
    retries: { attempts: 1 }
`,
    {},
    '',
    { plugins: { held } },
  );
  const judged = () => gw.logs.filter((l) => l.msg === 'target ejected' || l.msg === 'circuit opened');
  return { app, gw, judged };
}

test("an onResponse that waits past the upstream's total timeout: the upstream's 200, no target judged", async () => {
  const { app, gw, judged } = await heldRoute('{ response: 300ms, total: 300ms }');
  try {
    const res = await request(gw.url, { path: '/x', headers: { 'x-request-id': 'held' } });
    // Was: 504, Proxy-Status error=http_response_timeout, next-hop="app".
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-held'], 'yes');
    assert.equal(res.headers['proxy-status'], undefined);
    const line = await gw.logFor('held');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
    assert.deepEqual(judged(), []);
  } finally {
    await gw.close();
    await app.close();
  }
});

test("an onResponse that waits past a total timeout covering the body: the client's 504 says the head came, no target judged", async () => {
  const { app, gw, judged } = await heldRoute('{ response: 300ms, total: 300ms, total_includes_body: true }');
  try {
    const res = await request(gw.url, { path: '/x', headers: { 'x-request-id': 'held-body' } });
    // The cap covers the whole exchange: passed, it answers 504. Was: "no response head within the
    // total timeout of 300 ms" (the line's own ttfb_ms said it came), and the target ejected.
    assert.equal(res.status, 504);
    assert.equal(res.headers['x-held'], undefined);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_response_timeout; details="the total timeout of 300 ms passed while a route stage held the upstream\'s response head (it came; nothing of it was sent)"; next-hop="app"',
    );
    const line = await gw.logFor('held-body');
    assert.equal(line.status, 504);
    assert.equal(typeof line.ttfb_ms, 'number');
    assert.deepEqual(judged(), []);
    // Neither ejected nor its circuit open: the next request reaches it (and is held again), not a 503.
    const again = await request(gw.url, { path: '/y' });
    assert.equal(again.status, 504);
  } finally {
    await gw.close();
    await app.close();
  }
});
