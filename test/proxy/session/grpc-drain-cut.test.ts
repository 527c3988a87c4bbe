/**
 * A gRPC call still streaming when the gateway's drain deadline passes: its connection is closed
 * under it, which a gRPC client reads as UNAVAILABLE ("Connection dropped": safe to call again
 * elsewhere), and the log line and candor_grpc_responses_total say so, as they say the
 * CANCELLED of a send_timeout's reset and the INTERNAL of a cut inside a message.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const identity = (value: Buffer) => value;

test('a gRPC call cut at the drain deadline is logged and counted with the UNAVAILABLE its client reads', async (t) => {
  // One message, then the stream stays open: a server-streaming call with more to come.
  const upstream = http2.createServer();
  upstream.on('stream', (stream) => {
    stream.resume();
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.write(Buffer.from([0, 0, 0, 0, 1, 7]));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `drain: { delay: 0s, timeout: 300ms }
routes:
  - { match: { path: /feed.Svc }, upstream: feed }
upstreams:
  feed:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
`,
    {},
    'http2: true',
  );
  const client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const call = client.makeServerStreamRequest('/feed.Svc/Watch', identity, identity, Buffer.from('x'), {
    deadline: Date.now() + 10_000,
  });
  const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
  await new Promise<void>((resolve) => call.once('data', () => resolve()));
  await gw.gateway.drain();
  const error = await ended;
  assert.equal(error.code, grpc.status.UNAVAILABLE);
  const line = gw.logs.find((l) => l.msg === 'request');
  assert.ok(line);
  assert.equal(line.status, 200);
  assert.equal(line.error, 'proxy_internal_response');
  assert.equal(line.grpc_status, grpc.status.UNAVAILABLE);
  const text = (await gw.gateway.metrics.exposition()).text;
  assert.match(text, /candor_grpc_responses_total\{[^}]*grpc_status="14"[^}]*origin="gateway"[^}]*\} 1/);
});

test('two gRPC calls on one connection cut at the drain deadline both read UNAVAILABLE, neither a reset', async (t) => {
  // The same server-streaming call, twice on the client's one connection. Each was reset
  // INTERNAL_ERROR but the last, whose reset the connection's close dropped: one client read
  // INTERNAL, the other UNAVAILABLE, for the same cut.
  const upstream = http2.createServer();
  upstream.on('stream', (stream) => {
    stream.resume();
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.write(Buffer.from([0, 0, 0, 0, 1, 7]));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `drain: { delay: 0s, timeout: 300ms }
routes:
  - { match: { path: /feed.Svc }, upstream: feed }
upstreams:
  feed:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
`,
    {},
    'http2: true',
  );
  const client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const calls = [1, 2].map(() =>
    client.makeServerStreamRequest('/feed.Svc/Watch', identity, identity, Buffer.from('x'), {
      deadline: Date.now() + 10_000,
    }),
  );
  const ended = calls.map((call) => new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve)));
  await Promise.all(calls.map((call) => new Promise<void>((resolve) => call.once('data', () => resolve()))));
  await gw.gateway.drain();
  const codes = (await Promise.all(ended)).map((error) => error.code);
  assert.deepEqual(codes, [grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE]);
  const lines = gw.logs.filter((l) => l.msg === 'request');
  assert.deepEqual(
    lines.map((l) => [l.status, l.error, l.grpc_status]),
    [
      [200, 'proxy_internal_response', grpc.status.UNAVAILABLE],
      [200, 'proxy_internal_response', grpc.status.UNAVAILABLE],
    ],
  );
});

test('a gRPC call cut at the drain deadline before its head reads UNAVAILABLE, as logged', async (t) => {
  // The upstream takes the call and never answers: the client has no head when the drain cuts.
  const upstream = http2.createServer();
  upstream.on('stream', (stream) => stream.resume());
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `drain: { delay: 0s, timeout: 300ms }
routes:
  - { match: { path: /feed.Svc }, upstream: feed }
upstreams:
  feed:
    protocol: h2c
    timeouts: { response: 10s }
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
`,
    {},
    'http2: true',
  );
  const client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const taken = new Promise<void>((resolve) => upstream.once('stream', () => resolve()));
  const call = client.makeServerStreamRequest('/feed.Svc/Watch', identity, identity, Buffer.from('x'), {
    deadline: Date.now() + 10_000,
  });
  const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
  await taken;
  await gw.gateway.drain();
  assert.equal((await ended).code, grpc.status.UNAVAILABLE);
  const line = gw.logs.find((l) => l.msg === 'request');
  assert.deepEqual(
    [line?.status, line?.error, line?.grpc_status],
    [0, 'proxy_internal_response', grpc.status.UNAVAILABLE],
  );
});
