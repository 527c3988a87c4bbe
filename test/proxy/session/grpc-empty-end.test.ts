/**
 * A gRPC answer with no body and no status: its head, then END_STREAM on an empty DATA frame.
 * The gateway sends it on as it came when the end comes after the head has gone, and its client
 * reads the INTERNAL of a call ended without a status (grpc-js: "Call ended without gRPC
 * status"); when the end comes in the head's own turn, the two leave as one HEADERS frame with
 * END_STREAM, a Trailers-Only answer its client reads as UNKNOWN. The log says which.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const identity = (value: Buffer) => value;

test("a gRPC answer ended by an empty DATA frame after its head went is logged with the INTERNAL its client reads; ended in the head's turn, the UNKNOWN", async (t) => {
  const upstream = http2.createServer();
  upstream.on('stream', (stream, fields) => {
    stream.resume();
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    // stream.end() with no trailers: an empty DATA frame with END_STREAM.
    if (fields[':path'] === '/late.Svc/Call') setTimeout(() => stream.end(), 100);
    else stream.end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `routes:
  - { match: { path: / }, upstream: rpc }
upstreams:
  rpc:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  for (const [path, read] of [
    ['/late.Svc/Call', grpc.status.INTERNAL],
    ['/now.Svc/Call', grpc.status.UNKNOWN],
  ] as const) {
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        path,
        identity,
        identity,
        Buffer.from('x'),
        new grpc.Metadata(),
        { deadline: Date.now() + 5000 },
        (err) => resolve(err),
      ),
    );
    assert.equal(error?.code, read, `${path}: ${error?.details}`);
    const line = () => gw.logs.find((l) => l.msg === 'request' && l.path === path);
    await waitUntil('logged', () => line() !== undefined);
    assert.equal(line()?.grpc_status, read, path);
  }
});
