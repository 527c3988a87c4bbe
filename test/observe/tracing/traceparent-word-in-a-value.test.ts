/**
 * With tracing on, each attempt sends the upstream its own client span as `traceparent`, put in
 * place of the one the request's fields were built with. The field it replaces is the one named
 * `traceparent`, never a field whose value happens to be that word: a client's `Upgrade:
 * traceparent`, or its `Host: traceparent` through a route's `{host}` rule, comes after it in the
 * list and once took its place, the word's own next field renamed to the traceparent (a field
 * `00-…-01` with the route's value, or with none), the upstream's parent left the server span.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { KIND, startCollector } from './collector.ts';

test("a field whose value is the word traceparent keeps its place: the attempt's traceparent replaces the field of that name", async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: items
    match: { path: / }
    upstream: app
    request_headers: { set: { x-host: "{host}", x-after: after } }
upstreams:
  app:
    targets: [ { url: ${echo.url} } ]
tracing:
  otlp_endpoint: ${collector.endpoint}
`);
  try {
    await rawRequest(
      gw.port,
      'GET /a HTTP/1.1\r\nhost: traceparent\r\nx-request-id: by-host\r\nconnection: close\r\n\r\n',
    );
    await rawRequest(
      gw.port,
      'GET /b HTTP/1.1\r\nhost: x\r\nx-request-id: by-upgrade\r\nconnection: upgrade\r\nupgrade: traceparent\r\n\r\n',
      500,
    );
    // Each line is written when its spans end: the tunnel's when its client closed it.
    await gw.logFor('by-host');
    await gw.logFor('by-upgrade');
  } finally {
    // Closing the gateway flushes the batch processor: every span is at the collector after it.
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const [byHost, byUpgrade] = echo.received;
  const tail = (fields: ReadonlyArray<readonly [string, string]>) =>
    fields.slice(fields.findIndex(([name]) => name === 'x-request-id'));
  const sentAs = (id: string) => {
    const server = collector.spans.find(
      (s) => s.kind === KIND.server && s.attributes['candor.request_id'] === id,
    );
    const attempt = collector.spans.find((s) => s.kind === KIND.client && s.parentSpanId === server?.spanId);
    assert.ok(attempt, `the attempt's span of ${id}`);
    return `00-${attempt.traceId}-${attempt.spanId}-01`;
  };
  assert.deepEqual(tail(byHost.rawHeaders), [
    ['x-request-id', 'by-host'],
    ['traceparent', sentAs('by-host')],
    ['x-host', 'traceparent'],
    ['x-after', 'after'],
  ]);
  assert.deepEqual(tail(byUpgrade.rawHeaders), [
    ['x-request-id', 'by-upgrade'],
    ['traceparent', sentAs('by-upgrade')],
    ['x-host', 'x'],
    ['x-after', 'after'],
    ['connection', 'upgrade'],
    ['upgrade', 'traceparent'],
  ]);
});
