/**
 * A plugin fails in onResponse after the route's upstream answered (its `context.fetch` to a
 * service that refuses, let out): the upstream's attempt span says the answer it got (its
 * status), never the service's `connection_refused`, which is the service's attempt's span.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';
import { KIND, startCollector } from './collector.ts';

const audit: Plugin = (_options, context) => ({
  async onResponse(_response, request) {
    await context.fetch('svc', '/audit', { request });
  },
});

test("the upstream's attempt span, when a plugin's hop failed on its answer, says its status", async () => {
  const collector = await startCollector();
  const app = await startEcho();
  const nobody = await freePort();
  const gw = await startTestGateway(
    `plugins:
  audit: { module: /nonexistent/audit.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [audit] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  svc: { targets: [{ url: "http://127.0.0.1:${nobody}" }] }
tracing:
  otlp_endpoint: ${collector.endpoint}
`,
    {},
    '',
    { plugins: { audit } },
  );
  try {
    const res = await request(gw.url, { path: '/x', timeoutMs: 5000 });
    assert.equal(res.status, 502);
    await gw.logFor(String(res.headers['x-request-id']));
  } finally {
    await gw.close();
    await app.close();
    await collector.close();
  }
  const appSpan = collector.spans.find(
    (s) => s.kind === KIND.client && s.attributes['candor.upstream'] === 'app',
  );
  assert.ok(appSpan, JSON.stringify(collector.spans.map((s) => s.attributes)));
  assert.deepEqual(
    [appSpan.attributes['http.response.status_code'], appSpan.attributes['error.type'], appSpan.status.code],
    [200, undefined, 0],
  );
});
