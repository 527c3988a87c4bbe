/**
 * The route's `limits.body` bounds all a gRPC client sends over its call (docs/http2-and-grpc.md:
 * past it, RESOURCE_EXHAUSTED): before the upstream's head, a Trailers-Only answer; after it,
 * the trailers that end the answer carry the gateway's status. Either way the upstream's stream
 * is reset CANCEL (it never takes a body cut short for a whole one), and the log and
 * candor_grpc_responses_total say the gateway's 8.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';

/** One gRPC message of `size` bytes: the five-byte prefix, then zeros. */
const message = (size: number) => {
  const framed = Buffer.alloc(5 + size);
  framed.writeUInt32BE(size, 1);
  return framed;
};

interface Answer {
  head: http2.IncomingHttpHeaders;
  endedWithHead: boolean;
  trailers: http2.IncomingHttpHeaders | undefined;
  bodyBytes: number;
}

test("a gRPC call past the route's limits.body: RESOURCE_EXHAUSTED, Trailers-Only before the upstream's head, in the trailers after it; the upstream's stream cancelled", async (t) => {
  const cancelled: string[] = [];
  const upstream = http2.createServer();
  upstream.on('stream', (stream, fields) => {
    const path = String(fields[':path']);
    stream.on('error', () => {});
    stream.on('close', () => {
      if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) cancelled.push(path);
    });
    stream.resume();
    // A chat answers at once and holds its stream open; a unary call waits for the whole request.
    if (path === '/chat.Svc/Talk') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(message(3));
    }
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `routes:
  - { match: { path: / }, upstream: rpc, limits: { body: 1000 } }
upstreams:
  rpc:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const client = http2.connect(gw.url);
  t.after(() => client.close());

  const call = (path: string, send: (stream: http2.ClientHttp2Stream) => void) =>
    new Promise<Answer>((resolve, reject) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const answer: Answer = { head: {}, endedWithHead: false, trailers: undefined, bodyBytes: 0 };
      stream.on('response', (head, flags) => {
        answer.head = head;
        answer.endedWithHead = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      });
      stream.on('data', (chunk: Buffer) => {
        answer.bodyBytes += chunk.length;
      });
      stream.on('trailers', (trailers) => {
        answer.trailers = trailers;
      });
      stream.on('error', reject);
      stream.on('close', () => resolve(answer));
      send(stream);
    });

  // A unary call of one message past the bound: refused before any head came.
  const unary = await call('/big.Svc/Put', (stream) => stream.end(message(5000)));
  assert.equal(unary.head[':status'], 200);
  assert.equal(unary.endedWithHead, true, 'Trailers-Only: one HEADERS frame with END_STREAM');
  assert.equal(unary.head['content-type'], 'application/grpc');
  assert.equal(unary.head['grpc-status'], '8', 'RESOURCE_EXHAUSTED');
  assert.match(
    String(unary.head['grpc-message']),
    /^http_request_error: request body larger than the route's limit of 1000 bytes \(request id [-0-9a-f]+\)$/,
  );
  assert.match(String(unary.head['proxy-status']), /error=http_request_error/);
  await waitUntil("the upstream saw the unary call's stream cancelled", () =>
    cancelled.includes('/big.Svc/Put'),
  );

  // A chat whose upstream answered at once: its second message passes the bound.
  const chat = await call('/chat.Svc/Talk', (stream) => {
    stream.write(message(600));
    stream.once('data', () => stream.write(message(600)));
  });
  assert.equal(chat.head[':status'], 200);
  assert.equal(chat.endedWithHead, false);
  assert.equal(chat.bodyBytes, 8, "the upstream's message reached the client whole");
  assert.equal(chat.trailers?.['grpc-status'], '8', 'RESOURCE_EXHAUSTED, in the trailers');
  assert.match(String(chat.trailers?.['grpc-message']), /^http_request_error: request body larger than/);
  assert.match(String(chat.trailers?.['proxy-status']), /error=http_request_error/);
  await waitUntil("the upstream saw the chat's stream cancelled", () => cancelled.includes('/chat.Svc/Talk'));

  const line = (path: string) => gw.logs.find((l) => l.msg === 'request' && l.path === path);
  await waitUntil(
    'both logged',
    () => line('/big.Svc/Put') !== undefined && line('/chat.Svc/Talk') !== undefined,
  );
  assert.equal(line('/big.Svc/Put')?.status, 413);
  assert.equal(line('/big.Svc/Put')?.grpc_status, 8);
  assert.equal(line('/big.Svc/Put')?.error, 'http_request_error');
  assert.equal(line('/chat.Svc/Talk')?.status, 200, "the upstream's head went out");
  assert.equal(line('/chat.Svc/Talk')?.grpc_status, 8);
  assert.equal(line('/chat.Svc/Talk')?.error, 'http_request_error');
  assert.equal(line('/chat.Svc/Talk')?.stage, 'body_streaming');
  const text = (await gw.gateway.metrics.exposition()).text;
  assert.match(text, /candor_grpc_responses_total\{[^}]*grpc_status="8"[^}]*origin="gateway"[^}]*\} 2/);
});
