/**
 * A forward-auth call is traced as its own CLIENT span, a child of the request's server span as
 * an upstream attempt is (each retry its own, with `http.request.resend_count`), `candor.hop`
 * naming it as Proxy-Status does: the auth service's time and failure are told apart from the
 * upstream's. The service's traceparent names that span (its own spans hang under it) and it
 * gets the client's tracestate. Before, the call had no span: its parent was the server span,
 * and the trace showed a gap where the service took its time.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { freePort } from '../../helpers/wait.ts';
import { type ExportedSpan, KIND, STATUS, startCollector } from './collector.ts';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const STATE = 'congo=t61rcWkgMzE';

const tracing = (endpoint: string) => `tracing:
  otlp_endpoint: ${endpoint}
`;

/** The request's server span and the client spans of the hop `hop`, in the order they started. */
function spansOf(spans: readonly ExportedSpan[], hop: string) {
  const server = spans.find((s) => s.kind === KIND.server);
  assert.ok(server, 'a server span');
  const calls = spans
    .filter((s) => s.kind === KIND.client && s.attributes['candor.hop'] === hop)
    .sort((a, b) => (a.start < b.start ? -1 : 1));
  return { server, calls };
}

/** One request through a gateway whose route is guarded by `forward`, the service answering as `answer`. */
async function throughAuth(
  answer: (res: ServerResponse) => void,
  forward: (serviceUrl: string) => string,
  expected: number,
) {
  const collector = await startCollector();
  const service = await startAuthService((_req, res) => answer(res));
  const { gw, echo, close } = await startAuthStage(
    (app) => `${forwardAuthConfig(app, forward(service.url))}${tracing(collector.endpoint)}`,
  );
  try {
    const res = await request(gw.url, {
      path: '/app',
      headers: { traceparent: PARENT, tracestate: STATE },
      timeoutMs: 5000,
    });
    assert.equal(res.status, expected);
    await gw.logFor(String(res.headers['x-request-id']));
  } finally {
    await close(service);
    await collector.close();
  }
  return { spans: collector.spans, service, echo };
}

test("the auth service's call is a client span under the server span, and the service's parent", async () => {
  const { spans, service, echo } = await throughAuth(
    (res) => res.writeHead(200).end(),
    (url) => `{ url: "${url}?key=secret" }`,
    200,
  );
  const { server, calls } = spansOf(spans, `auth:${service.host}`);
  assert.equal(calls.length, 1, JSON.stringify(spans.map((s) => [s.name, s.attributes])));
  const [call] = calls;
  assert.equal(call.parentSpanId, server.spanId);
  assert.equal(call.traceId, server.traceId);
  assert.equal(call.name, 'GET');
  assert.equal(call.status.code, STATUS.unset);
  assert.deepEqual(
    {
      method: call.attributes['http.request.method'],
      address: call.attributes['server.address'],
      port: call.attributes['server.port'],
      url: call.attributes['url.full'],
      status: call.attributes['http.response.status_code'],
      resend: call.attributes['http.request.resend_count'],
    },
    {
      method: 'GET',
      address: '127.0.0.1',
      port: service.port,
      // Never the query: it carries secrets, and traces travel further than logs.
      url: `http://${service.host}/check`,
      status: 200,
      resend: undefined,
    },
  );
  // The service's traceparent is the call's own span; the client's tracestate goes with it.
  assert.equal(service.asked[0].traceparent, `00-${call.traceId}-${call.spanId}-01`);
  assert.equal(service.asked[0].tracestate, STATE);
  assert.equal(call.traceState, STATE);
  // The upstream's attempt is a span of its own, beside the call's, without a hop.
  const upstream = spans.find((s) => s.kind === KIND.client && s.attributes['candor.upstream'] === 'app');
  assert.equal(upstream?.attributes['candor.hop'], undefined);
  assert.equal(echo.received[0].headers.traceparent, `00-${upstream?.traceId}-${upstream?.spanId}-01`);
});

test("the auth service's 500: its span is an error with its status", async () => {
  const { spans, service } = await throughAuth(
    (res) => res.writeHead(500).end(),
    (url) => `{ url: "${url}" }`,
    503,
  );
  const { calls } = spansOf(spans, `auth:${service.host}`);
  assert.equal(calls.length, 1);
  assert.deepEqual(
    [
      calls[0].attributes['http.response.status_code'],
      calls[0].attributes['error.type'],
      calls[0].status.code,
    ],
    [500, '500', STATUS.error],
  );
});

test('an auth service slow past its timeout: the span says the hop timed out', async () => {
  const { spans, service } = await throughAuth(
    () => {}, // never answers
    (url) => `{ url: "${url}", timeout: 300ms }`,
    504,
  );
  const { calls } = spansOf(spans, `auth:${service.host}`);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].attributes['error.type'], 'http_response_timeout');
  assert.equal(calls[0].attributes['http.response.status_code'], undefined);
  assert.equal(calls[0].status.code, STATUS.error);
});

test('an auth service down, asked through its upstream: each attempt its span, a retry with its resend count', async () => {
  const down = await freePort();
  const collector = await startCollector();
  const sso = `  sso:
    targets:
      - url: http://127.0.0.1:${down}
`;
  const { gw, close } = await startAuthStage(
    (app) =>
      `${forwardAuthConfig(app, '{ upstream: sso, path: /verify }', { upstreams: sso })}${tracing(collector.endpoint)}`,
  );
  try {
    const res = await request(gw.url, { path: '/app', timeoutMs: 5000 });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /connection_refused/);
    await gw.logFor(String(res.headers['x-request-id']));
  } finally {
    await close();
    await collector.close();
  }
  const { server, calls } = spansOf(collector.spans, 'auth:sso');
  assert.ok(calls.length >= 2, JSON.stringify(collector.spans.map((s) => [s.name, s.attributes])));
  calls.forEach((call, i) => {
    assert.equal(call.parentSpanId, server.spanId);
    assert.equal(call.attributes['http.request.resend_count'], i === 0 ? undefined : i);
    assert.equal(call.attributes['candor.upstream'], 'sso');
    assert.equal(call.attributes['error.type'], 'connection_refused');
    assert.equal(call.attributes['server.port'], down);
    assert.equal(call.status.code, STATUS.error);
  });
  // The request's server span says the auth hop's failure; no upstream attempt was made.
  assert.equal(server.attributes['error.type'], 'connection_refused');
  assert.equal(collector.spans.filter((s) => s.attributes['candor.upstream'] === 'app').length, 0);
});
