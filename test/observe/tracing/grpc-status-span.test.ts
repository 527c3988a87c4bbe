/**
 * A gRPC call's spans say the gRPC status its client read. A gRPC failure travels as an HTTP
 * 200 whose trailers carry `grpc-status`: by the HTTP rules alone the span of an upstream's
 * UNAVAILABLE was a success, and a trace search for errors never found it. The gRPC
 * conventions: `rpc.grpc.status_code` on both spans; a server span is an error for the codes
 * that are the server's fault (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
 * UNAVAILABLE, DATA_LOSS), a client span for any code but OK; `error.type` the code's name.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { KIND, STATUS, startCollector } from './collector.ts';

test("an upstream's grpc-status in trailers: on both spans, an error as gRPC's rules say", async () => {
  const collector = await startCollector();
  // An h2c gRPC upstream: each call's path names the grpc-status its trailers carry.
  const upstream = http2.createServer().on('stream', (stream, head) => {
    const code = String(head[':path']).split('/').pop() as string;
    stream.resume();
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': code }));
    stream.end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: rpc
    match: { path: /shop.Orders }
    upstream: orders
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
tracing:
  otlp_endpoint: ${collector.endpoint}
`,
    {},
    'http2: true',
  );
  const read: Record<string, string> = {};
  try {
    const session = http2.connect(gw.url);
    for (const code of ['0', '5', '14']) {
      read[code] = await new Promise<string>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': `/shop.Orders/${code}`,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        stream.on('trailers', (trailers) => resolve(String(trailers['grpc-status'])));
        stream.on('error', reject);
        stream.resume();
        stream.end(Buffer.alloc(5));
      });
    }
    session.close();
    await gw.accessLine(3);
  } finally {
    await gw.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await collector.close();
  }
  assert.deepEqual(read, { 0: '0', 5: '5', 14: '14' });
  const spans = (kind: number, code: string) => {
    const span = collector.spans.find(
      (s) =>
        s.kind === kind && String(s.attributes['url.path'] ?? s.attributes['url.full']).endsWith(`/${code}`),
    );
    assert.ok(span, `${kind} ${code}`);
    return [
      span.attributes['http.response.status_code'],
      span.attributes['rpc.grpc.status_code'],
      span.attributes['error.type'],
      span.status.code,
    ];
  };
  assert.deepEqual(spans(KIND.server, '0'), [200, 0, undefined, STATUS.unset]);
  assert.deepEqual(spans(KIND.client, '0'), [200, 0, undefined, STATUS.unset]);
  // NOT_FOUND is the caller's: the server's span is no error, the client's is.
  assert.deepEqual(spans(KIND.server, '5'), [200, 5, undefined, STATUS.unset]);
  assert.deepEqual(spans(KIND.client, '5'), [200, 5, 'NOT_FOUND', STATUS.error]);
  assert.deepEqual(spans(KIND.server, '14'), [200, 14, 'UNAVAILABLE', STATUS.error]);
  assert.deepEqual(spans(KIND.client, '14'), [200, 14, 'UNAVAILABLE', STATUS.error]);
});

test("the gateway's own Trailers-Only answer: the span's status code is the failure's, as the log line's and the metric's", async () => {
  // The client reads :status 200 and grpc-status 14; the log line's status, candor_responses_total's
  // code and the server span's http.response.status_code all say the 502 the failure stands for,
  // and rpc.grpc.status_code what the client read: one answer, told alike on every surface.
  const collector = await startCollector();
  const refusing = await startRefusing();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: rpc
    match: { path: /shop.Orders }
    upstream: orders
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "${refusing.url}" }]
    retries: { attempts: 1 }
tracing:
  otlp_endpoint: ${collector.endpoint}
`,
    {},
    'http2: true',
  );
  let read: [unknown, unknown] = [undefined, undefined];
  let line: Record<string, unknown> = {};
  let metrics = '';
  try {
    const session = http2.connect(gw.url);
    read = await new Promise((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/shop.Orders/Get',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('response', (head) => resolve([head[':status'], head['grpc-status']]));
      stream.on('error', reject);
      stream.resume();
      stream.end(Buffer.alloc(5));
    });
    session.close();
    line = await gw.accessLine(1);
    metrics = (await gw.gateway.metrics.exposition()).text;
  } finally {
    await gw.close();
    await refusing.close();
    await collector.close();
  }
  assert.deepEqual(read, [200, '14']);
  assert.deepEqual([line.status, line.grpc_status, line.error], [502, 14, 'connection_refused']);
  assert.match(
    metrics,
    /candor_responses_total\{route="rpc",code="502",origin="gateway",error_type="connection_refused"\} 1/,
  );
  const server = collector.spans.find((s) => s.kind === KIND.server);
  assert.ok(server);
  assert.deepEqual(
    [
      server.attributes['http.response.status_code'],
      server.attributes['rpc.grpc.status_code'],
      server.attributes['error.type'],
      server.status.code,
    ],
    [502, 14, 'connection_refused', STATUS.error],
  );
});

test("a gRPC call no route claims: the client reads UNIMPLEMENTED, a server's code, and the server span is an error though the failure's status is 404", async () => {
  // The gateway's Trailers-Only answer (`:status 200`, grpc-status 12) stands for a 404: by the
  // HTTP rules a server's 4xx is no error of its span, but the client read a gRPC status, and
  // gRPC's rules (docs/observability.md) make UNIMPLEMENTED the server's: a search for the
  // errors of gRPC calls must find it, as it finds an upstream's own UNIMPLEMENTED.
  const collector = await startCollector();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: rpc
    match: { path: /shop.Orders }
    upstream: orders
upstreams:
  orders:
    targets: [{ url: "http://127.0.0.1:9" }]
tracing:
  otlp_endpoint: ${collector.endpoint}
`,
    {},
    'http2: true',
  );
  let read: [unknown, unknown] = [undefined, undefined];
  let line: Record<string, unknown> = {};
  try {
    const session = http2.connect(gw.url);
    read = await new Promise((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/shop.Carts/Get',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('response', (head) => resolve([head[':status'], head['grpc-status']]));
      stream.on('error', reject);
      stream.resume();
      stream.end(Buffer.alloc(5));
    });
    session.close();
    line = await gw.accessLine(1);
  } finally {
    await gw.close();
    await collector.close();
  }
  assert.deepEqual(read, [200, '12']);
  assert.deepEqual([line.status, line.grpc_status, line.error], [404, 12, 'destination_not_found']);
  const server = collector.spans.find((s) => s.kind === KIND.server);
  assert.ok(server);
  assert.deepEqual(
    [
      server.attributes['http.response.status_code'],
      server.attributes['rpc.grpc.status_code'],
      server.attributes['error.type'],
      server.status.code,
    ],
    [404, 12, 'destination_not_found', STATUS.error],
  );
});
