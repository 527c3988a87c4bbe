/**
 * A gRPC answer that ends with no status its client can read: the gateway passes it on as it
 * came, and the log says what its client reads of it. A head, then END_STREAM on an empty DATA
 * frame after that head has gone: INTERNAL (grpc-js: "Call ended without gRPC status"); the two
 * in the head's own turn leave as one HEADERS frame with END_STREAM, a Trailers-Only answer read
 * as UNKNOWN. A grpc-status in a head followed by a body is read nowhere (only a Trailers-Only
 * head's is): UNKNOWN with trailers that carry none, INTERNAL with no trailers.
 */
import assert from 'node:assert/strict';
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const identity = (value: Buffer) => value;

/**
 * An h2c upstream answering each stream by `answer` (given its :path), behind a gateway; each
 * call of `cases` is made by a grpc-js client and must fail with the code given, and be logged so.
 */
async function assertRead(
  t: TestContext,
  answer: (stream: ServerHttp2Stream, path: string) => void,
  cases: readonly (readonly [string, grpc.status])[],
): Promise<void> {
  const upstream = http2.createServer();
  upstream.on('stream', (stream, fields) => {
    stream.resume();
    answer(stream, String(fields[':path']));
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
  for (const [path, read] of cases) {
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
}

test("a gRPC answer ended by an empty DATA frame after its head went is logged with the INTERNAL its client reads; ended in the head's turn, the UNKNOWN", async (t) => {
  await assertRead(
    t,
    (stream, path) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      // stream.end() with no trailers: an empty DATA frame with END_STREAM.
      if (path === '/late.Svc/Call') setTimeout(() => stream.end(), 100);
      else stream.end();
    },
    [
      ['/late.Svc/Call', grpc.status.INTERNAL],
      ['/now.Svc/Call', grpc.status.UNKNOWN],
    ],
  );
});

test("a grpc-status in the head of an answer with a body is no status its client reads: logged as the UNKNOWN or INTERNAL it reads, never the head's OK", async (t) => {
  await assertRead(
    t,
    (stream, path) => {
      const trailers = path === '/trailers.Svc/Call';
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' },
        { waitForTrailers: trailers },
      );
      // Trailers without a grpc-status, or none at all: the body's DATA frame ends the stream.
      if (trailers) stream.on('wantTrailers', () => stream.sendTrailers({ 'x-served-by': 'a' }));
      stream.end(Buffer.from([0, 0, 0, 0, 1, 7]));
    },
    [
      ['/trailers.Svc/Call', grpc.status.UNKNOWN],
      ['/body.Svc/Call', grpc.status.INTERNAL],
    ],
  );
});

// Not a 200: its client reads no status of a head followed by a body; with none in trailers it
// reads the HTTP status as gRPC maps it (a 503 is UNAVAILABLE), never the head's OK.
test("a non-200 answer with a grpc-status in its head and a body is logged with the status its client reads: the trailers', else the HTTP status's mapping", async (t) => {
  await assertRead(
    t,
    (stream, path) => {
      const trailers = path === '/trailers503.Svc/Call';
      stream.respond(
        { ':status': 503, 'content-type': 'application/grpc', 'grpc-status': '0' },
        { waitForTrailers: trailers },
      );
      if (trailers) stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '8' }));
      stream.end(Buffer.from([0, 0, 0, 0, 1, 7]));
    },
    [
      ['/body503.Svc/Call', grpc.status.UNAVAILABLE],
      ['/trailers503.Svc/Call', grpc.status.RESOURCE_EXHAUSTED],
    ],
  );
});
