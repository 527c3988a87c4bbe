/**
 * A gRPC answer is never given an HTTP content coding, whatever `compression.types` lists
 * (`application/*` takes `application/grpc` too): gRPC frames its messages itself and
 * compresses them itself (`grpc-encoding`), and a gRPC client reads the body as length-prefixed
 * messages, never through a `Content-Encoding`. A client that sends `accept-encoding` (gRPC's C
 * core, behind grpcio and the C++ and Ruby clients, has sent `identity,gzip`) had such a route
 * gzip the stream, and read the gzip header as a message prefix. gRPC-Web, read by a browser's
 * fetch, which decodes the coding, is compressed as before. A node:http2 client and upstream.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import { type H2Fault, startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** One gRPC message of `size` bytes: the flag byte, the length, the bytes. */
function message(size: number): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(size, 1);
  return Buffer.concat([prefix, Buffer.alloc(size, 'a')]);
}
const MESSAGE = message(4000);

let upstream: H2Fault;
let gw: TestGateway;

before(async () => {
  upstream = await startH2((stream, request) => {
    stream.on('data', () => {});
    const type = request.path.startsWith('/web.') ? 'application/grpc-web+proto' : 'application/grpc+proto';
    stream.respond({ ':status': 200, 'content-type': type }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(MESSAGE);
  });
  gw = await startTestGateway(
    `routes:
  - match: { path: / }
    upstream: app
    compression: { types: ["application/*"] }
upstreams:
  app:
    protocol: h2c
    targets: [{ url: "${upstream.url}" }]
`,
    {},
    'http2: true',
  );
});

after(() => closeAll(gw, upstream));

interface Answer {
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: http2.IncomingHttpHeaders;
}

/** A unary call with `accept-encoding: identity,gzip` beside gRPC's own fields, as gRPC's C core has sent it. */
function call(path: string, contentType: string): Promise<Answer> {
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  return new Promise<Answer>((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': contentType,
      te: 'trailers',
      'grpc-accept-encoding': 'identity,deflate,gzip',
      'accept-encoding': 'identity,gzip',
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ headers, body: Buffer.concat(chunks), trailers }));
    stream.on('error', reject);
    stream.end(message(3));
  }).finally(() => session.close());
}

test('a gRPC answer on a route whose types take application/*: no Content-Encoding, the messages as sent', async () => {
  const answer = await call('/pkg.Svc/Get', 'application/grpc+proto');
  assert.equal(answer.headers[':status'], 200);
  assert.equal(answer.headers['content-type'], 'application/grpc+proto');
  assert.equal(answer.headers['content-encoding'], undefined);
  assert.ok(answer.body.equals(MESSAGE), `the body is the message as sent (${answer.body.length} bytes)`);
  assert.equal(answer.trailers['grpc-status'], '0');
});

test('a gRPC-Web answer, which a browser decodes, is compressed as the route says', async () => {
  const answer = await call('/web.Svc/Get', 'application/grpc-web+proto');
  assert.equal(answer.headers[':status'], 200);
  assert.equal(answer.headers['content-encoding'], 'gzip');
  assert.equal(answer.headers.vary, 'Accept-Encoding');
});
