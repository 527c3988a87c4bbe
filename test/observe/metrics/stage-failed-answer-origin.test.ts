/**
 * A route stage that fails on the upstream's answer (a plugin's onResponse throws) has the
 * gateway answer in its place: the client reads the gateway's 500 `proxy_internal_error`, never
 * the upstream's 200. candor_responses_total says who made the answer the client got, so it is
 * origin="gateway" (it was "upstream", read from the try's status), and the request counts among
 * the gateway's own errors, as the log phase means it to (a fleet's config canary judges them).
 * The attempt stays what it was: a response, observed with the upstream's status.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import type { GatewayWindow } from '../../../src/upstream/canary/canary-window.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { named, samples, sampleValue, scrape } from './scrape.ts';

const throwsOnAnswer: Plugin = () => ({
  onResponse() {
    throw new Error('a bug on every answer');
  },
});

test("a plugin that throws on the upstream's answer: the 500 is the gateway's in candor_responses_total", async (t) => {
  const app = await listenOnLoopback((_req, res) => res.writeHead(200).end('ok'));
  t.after(() => app.close());
  const gw = await startGatewayFromText(
    `name: edge-1
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:0
plugins:
  picky: { module: /nonexistent/picky.ts }
routes:
  - name: api
    match: { path: / }
    upstream: app
    plugins: [picky]
upstreams:
  app: { targets: [{ url: "${app.url}" }] }
`,
    {},
    { plugins: { picky: throwsOnAnswer } },
  );
  t.after(() => gw.close());
  // The gateway's own errors are counted once a fleet asks for them (its first take).
  const gatewayCounts = gw.gateway.runtime().gatewayCounts as GatewayWindow;
  gatewayCounts.take();

  assert.equal((await request(gw.url, { path: '/x', headers: { 'x-request-id': 'thrown' } })).status, 500);
  const line = await gw.logFor('thrown');
  assert.deepEqual(
    [line.status, line.error, line.stage, line.tries],
    [
      500,
      'proxy_internal_error',
      'head_received',
      [{ target: app.url, status: 200, stage: 'head_received', ms: (line.tries as { ms: number }[])[0].ms }],
    ],
  );
  const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
  assert.equal(
    sampleValue(all, 'candor_responses_total', {
      route: 'api',
      code: '500',
      origin: 'gateway',
      error_type: 'proxy_internal_error',
    }),
    1,
    named(all, 'candor_responses_total'),
  );
  assert.equal(
    all.filter((s) => s.name === 'candor_responses_total').length,
    1,
    named(all, 'candor_responses_total'),
  );
  assert.equal(
    sampleValue(all, 'candor_upstream_attempts_total', {
      upstream: 'app',
      target: app.url,
      outcome: 'response',
      reused_connection: 'false',
    }),
    1,
    named(all, 'candor_upstream_attempts_total'),
  );
  const counted = gatewayCounts.take();
  assert.equal(counted.gateway_error, 1, "counted among the gateway's own errors");
});
