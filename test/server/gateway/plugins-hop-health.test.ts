/**
 * A service a plugin's `context.fetch` calls from onResponse fails: the request is answered as
 * that hop's failure (502 `connection_refused`, `next-hop="svc"`), but the route's upstream did
 * answer, every time. Its health is not that hop's: its circuit stays closed and its target in
 * rotation, so the next request, which needs no service, is the upstream's 200, never a 503
 * saying "the circuit of app is open after repeated failures (the last: connection_refused)";
 * and /metrics counts each of its attempts as the answer it was, not as a refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

const audit: Plugin = (_options, context) => ({
  async onResponse(_response, request) {
    if (request.path === '/audited') await context.fetch('svc', '/audit', { request });
  },
});

describe("a plugin's hop that fails in onResponse is not the route's upstream's failure", () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    const nobody = await freePort();
    gw = await startTestGateway(
      `metrics:
  listen: 127.0.0.1:0
plugins:
  audit: { module: /nonexistent/audit.ts }
routes:
  - { name: audited, match: { path: / }, upstream: app, plugins: [audit] }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
    outlier_detection: { consecutive_failures: 2 }
    circuit_breaker: { consecutive_failures: 3, open_time: 30s }
  svc: { targets: [{ url: "http://127.0.0.1:${nobody}" }] }
`,
      {},
      '',
      { plugins: { audit } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test("four of the service's failures, then the upstream's own answer", async () => {
    const atApp = app.received.length;
    for (let i = 0; i < 4; i++) {
      const res = await request(gw.url, { path: '/audited', timeoutMs: 5000 });
      assert.equal(res.status, 502, `request ${i + 1}`);
      assert.match(
        String(res.headers['proxy-status']),
        /^candor; error=connection_refused; .*; next-hop="svc"$/,
      );
    }
    assert.equal(app.received.length - atApp, 4);
    const res = await request(gw.url, { path: '/plain', timeoutMs: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['proxy-status'], undefined);
    assert.equal(app.received.length - atApp, 5);
    // Each of the five attempts on the upstream's target had its answer's head: none was refused.
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const target = new URL(app.url).origin;
    const attempts = (outcome: string) =>
      [true, false].reduce(
        (sum, reused) =>
          sum +
          (sampleValue(all, 'candor_upstream_attempts_total', {
            upstream: 'app',
            target,
            outcome,
            reused_connection: String(reused),
          }) ?? 0),
        0,
      );
    assert.deepEqual([attempts('response'), attempts('connection_refused')], [5, 0]);
  });
});
