/**
 * A plugin's `context.fetch` for a request is traced as its own CLIENT span under the request's
 * server span, `candor.hop` naming the plugin (`plugin:NAME`), `candor.upstream` the service:
 * the service's traceparent names that span, and it gets the client's tracestate as the
 * upstream does. Before, the call had no span and no tracestate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { KIND, STATUS, startCollector } from './collector.ts';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const STATE = 'congo=t61rcWkgMzE';

const lookup: Plugin = (_options, context) => ({
  async onRequest(request) {
    await context.fetch('svc', '/users/42?token=secret', { request });
  },
});

test("a plugin's fetch is a client span under the server span, the service's parent, with the tracestate", async () => {
  const collector = await startCollector();
  const app = await startEcho();
  const svc = await startEcho();
  const gw = await startTestGateway(
    `plugins:
  lookup: { module: /nonexistent/lookup.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [lookup] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  svc: { targets: [{ url: ${svc.url} }] }
tracing:
  otlp_endpoint: ${collector.endpoint}
`,
    {},
    '',
    { plugins: { lookup } },
  );
  try {
    const res = await request(gw.url, {
      path: '/x',
      headers: { traceparent: PARENT, tracestate: STATE },
      timeoutMs: 5000,
    });
    assert.equal(res.status, 200);
    await gw.logFor(String(res.headers['x-request-id']));
  } finally {
    await gw.close();
    await app.close();
    await svc.close();
    await collector.close();
  }
  const server = collector.spans.find((s) => s.kind === KIND.server);
  const call = collector.spans.find(
    (s) => s.kind === KIND.client && s.attributes['candor.hop'] === 'plugin:lookup',
  );
  assert.ok(server && call, JSON.stringify(collector.spans.map((s) => [s.name, s.attributes])));
  assert.equal(call.parentSpanId, server.spanId);
  assert.equal(call.name, 'GET');
  assert.equal(call.status.code, STATUS.unset);
  assert.deepEqual(
    [
      call.attributes['candor.upstream'],
      call.attributes['url.full'],
      call.attributes['http.response.status_code'],
    ],
    ['svc', `${svc.url}/users/42`, 200],
  );
  const asked = svc.received[0].headers;
  assert.equal(asked.traceparent, `00-${call.traceId}-${call.spanId}-01`);
  assert.equal(asked.tracestate, STATE);
});
