/**
 * Span export, end to end on real sockets: a gateway with `tracing` posts its spans over
 * OTLP/HTTP (JSON) to a loopback collector stand-in, which keeps every span it is sent.
 * The spans are read as a collector reads them, and their structure and attributes checked
 * against the OpenTelemetry HTTP semantic conventions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { VERSION } from '../../../src/core/version.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, KIND, STATUS, startCollector } from './collector.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';

test('a retried request: one server span continuing the client trace, one client span per attempt', async () => {
  const collector = await startCollector();
  const refusing = await startRefusing();
  const echo = await startEcho();
  // Round robin starts with the first target: the refusing one, then the retry goes to the echo.
  const gw = await startTestGateway(
    gatewayYaml([refusing.url, echo.url], collector.endpoint, '  service_name: edge-traces\n'),
  );
  let upstreamTraceparent: string | undefined;
  try {
    const res = await request(gw.url, {
      path: '/items/7?token=secret',
      headers: {
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`,
        'x-request-id': 'trace-test-1',
        'user-agent': 'trace-test/1.0',
      },
    });
    assert.equal(res.status, 200);
    const line = await gw.logFor('trace-test-1');
    assert.deepEqual(
      (line.tries as Array<{ target: string; error?: string; status?: number }>).map((t) => [
        t.target,
        t.error ?? t.status,
      ]),
      [
        [refusing.url, 'connection_refused'],
        [echo.url, 200],
      ],
    );
    upstreamTraceparent = echo.received[0].rawHeaders.find(([name]) => name === 'traceparent')?.[1];
  } finally {
    // Closing the gateway flushes the batch processor: every span is at the collector after it.
    await gw.close();
    await Promise.all([refusing.close(), echo.close()]);
    await collector.close();
  }

  assert.deepEqual(collector.contentTypes, ['application/json']);
  assert.equal(
    collector.spans.length,
    3,
    JSON.stringify(collector.spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  const server = collector.spans.find((s) => s.kind === KIND.server);
  const clients = collector.spans
    .filter((s) => s.kind === KIND.client)
    .sort((a, b) => Number(a.start - b.start));
  assert.ok(server);
  assert.equal(clients.length, 2);
  const [refused, retried] = clients;

  // The structure: client's span → server span → one client span per attempt, one trace.
  for (const span of collector.spans) assert.equal(span.traceId, TRACE_ID);
  assert.equal(server.parentSpanId, CLIENT_SPAN_ID);
  assert.equal(refused.parentSpanId, server.spanId);
  assert.equal(retried.parentSpanId, server.spanId);
  assert.equal(new Set([server.spanId, refused.spanId, retried.spanId]).size, 3);
  // The upstream's parent is the exported span of the attempt that reached it.
  assert.equal(upstreamTraceparent, `00-${TRACE_ID}-${retried.spanId}-01`);
  // In time: the attempts one after the other, inside the server span.
  assert.ok(
    server.start <= refused.start && refused.end <= retried.start && retried.end <= server.end,
    String(
      [server.start, refused.start, refused.end, retried.start, retried.end, server.end].map(
        (t) => t - server.start,
      ),
    ),
  );

  assert.deepEqual(server.resource['service.name'], 'edge-traces');
  assert.deepEqual(server.resource['service.version'], VERSION);

  assert.equal(server.name, 'GET /items/*');
  assert.deepEqual(server.attributes, {
    'http.request.method': 'GET',
    'url.scheme': 'http',
    'url.path': '/items/7',
    'client.address': '127.0.0.1',
    'network.peer.address': '127.0.0.1',
    'server.address': '127.0.0.1',
    'server.port': gw.port,
    'network.protocol.version': '1.1',
    'user_agent.original': 'trace-test/1.0',
    'candor.request_id': 'trace-test-1',
    'http.route': '/items/*',
    'candor.route': 'items',
    'candor.upstream': 'app',
    'http.response.status_code': 200,
  });
  assert.deepEqual(server.status, { code: STATUS.unset });

  assert.equal(refused.name, 'GET');
  assert.deepEqual(refused.attributes, {
    'http.request.method': 'GET',
    'server.address': '127.0.0.1',
    'server.port': refusing.port,
    'url.full': `${refusing.url}/items/7`,
    'candor.upstream': 'app',
    'network.peer.address': '127.0.0.1',
    'network.peer.port': refusing.port,
    'error.type': 'connection_refused',
    'candor.stage': 'not_sent',
  });
  assert.equal(refused.status.code, STATUS.error);
  assert.match(refused.status.message ?? '', /^connection_refused: connection refused \(ECONNREFUSED\)/);

  assert.equal(retried.name, 'GET');
  assert.deepEqual(retried.attributes, {
    'http.request.method': 'GET',
    'server.address': '127.0.0.1',
    'server.port': echo.port,
    'url.full': `${echo.url}/items/7`,
    'candor.upstream': 'app',
    'http.request.resend_count': 1,
    'network.peer.address': '127.0.0.1',
    'network.peer.port': echo.port,
    'http.response.status_code': 200,
  });
  assert.deepEqual(retried.status, { code: STATUS.unset });
});

test("a gateway failure: a new trace with the log line's trace id, error.type the failure's RFC 9209 type", async () => {
  const collector = await startCollector();
  const refusing = await startRefusing();
  const gw = await startTestGateway(gatewayYaml([refusing.url], collector.endpoint));
  let traceId: unknown;
  try {
    const res = await request(gw.url, { path: '/items', headers: { 'x-request-id': 'trace-test-2' } });
    assert.equal(res.status, 502);
    traceId = (await gw.logFor('trace-test-2')).trace_id;
  } finally {
    await gw.close();
    await refusing.close();
    await collector.close();
  }
  const server = collector.spans.find((s) => s.kind === KIND.server);
  const clients = collector.spans
    .filter((s) => s.kind === KIND.client)
    .sort((a, b) => Number(a.start - b.start));
  assert.ok(server);
  assert.equal(server.traceId, traceId);
  assert.equal(server.parentSpanId, undefined);
  assert.equal(server.resource['service.name'], 'edge-1', 'the service name defaults to the gateway name');
  assert.equal(server.attributes['http.response.status_code'], 502);
  assert.equal(server.attributes['error.type'], 'connection_refused');
  assert.equal(server.attributes['candor.stage'], 'not_sent');
  assert.equal(server.status.code, STATUS.error);
  // The one target is tried again (a refused connect never reached it): refused twice.
  assert.deepEqual(
    clients.map((c) => [
      c.parentSpanId === server.spanId,
      c.attributes['error.type'],
      c.attributes['http.request.resend_count'],
      c.status.code,
    ]),
    [
      [true, 'connection_refused', undefined, STATUS.error],
      [true, 'connection_refused', 1, STATUS.error],
    ],
  );
});

test('sampled out: nothing is exported, and the upstream is told the trace is not sampled', async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], collector.endpoint, '  sample_ratio: 0\n'));
  let traceId: unknown;
  try {
    const res = await request(gw.url, { path: '/items', headers: { 'x-request-id': 'trace-test-3' } });
    assert.equal(res.status, 200);
    traceId = (await gw.logFor('trace-test-3')).trace_id;
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  assert.equal(collector.spans.length, 0);
  const traceparent = echo.received[0].rawHeaders.find(([name]) => name === 'traceparent')?.[1];
  assert.match(traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
});

test('the endpoint must be an http(s) URL with the traces path', () => {
  const yaml = (endpoint: string) =>
    `listen: [{ address: "127.0.0.1:0" }]\nroutes: [{ upstream: u }]\nupstreams: { u: { targets: [{ url: "http://127.0.0.1:1" }] } }\ntracing: { otlp_endpoint: "${endpoint}" }\n`;
  const config = parseConfig(yaml('http://127.0.0.1:4318/v1/traces'), '<test>', {});
  assert.deepEqual(config.tracing, {
    otlpEndpoint: 'http://127.0.0.1:4318/v1/traces',
    sampleRatio: 1,
    serviceName: 'candor',
  });
  assert.equal(
    parseConfig(yaml('http://127.0.0.1:4318/v1/traces').replace(/tracing.*\n/, ''), '<test>', {}).tracing,
    undefined,
  );
  for (const [endpoint, said] of [
    ['http://127.0.0.1:4318', /expected the traces path in the URL/],
    ['grpc://127.0.0.1:4317/v1/traces', /expected an http:\/\/ or https:\/\/ URL/],
    ['not a url', /expected a URL like http:\/\/127\.0\.0\.1:4318\/v1\/traces/],
  ] as const) {
    assert.throws(
      () => parseConfig(yaml(endpoint), '<test>', {}),
      (err: unknown) => err instanceof ConfigError && said.test(String(err.message)),
      endpoint,
    );
  }
});

test('a failed export is one warn line; the request is served all the same and close() still resolves', async () => {
  const collector = await startCollector(true);
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], collector.endpoint));
  try {
    const res = await request(gw.url, { path: '/items', headers: { 'x-request-id': 'trace-test-5' } });
    assert.equal(res.status, 200);
    await gw.logFor('trace-test-5');
  } finally {
    // The last export fails: close() must resolve all the same.
    await gw.close();
    await echo.close();
    await collector.close();
  }
  assert.equal(collector.contentTypes.length, 1, 'one export, not retried (400 is final)');
  const failed = gw.logs.filter((line) => line.msg === 'trace export failed');
  assert.equal(failed.length, 1, JSON.stringify(gw.logs));
  assert.equal(failed[0].level, 'warn');
  assert.equal(failed[0].spans, 2);
  assert.equal(typeof failed[0].error, 'string');
});
