/**
 * An HTTP/1.1 upstream's answer that turns to garbage after its head (a chunk size that is no
 * number) in the same read as body bytes that were valid: those bytes reach the client before
 * the cut, as they do when the garbage comes in a later read. What the client gets must not hang
 * on how the upstream's bytes fell into reads. To a gRPC client it is a whole message, then the
 * gateway's UNAVAILABLE at that message boundary (the table's `http_response_transfer_coding`).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

/** One gRPC message: not compressed, its length, its bytes. */
const message = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

/** Answers each request with a chunked head, one valid chunk and a chunk size "zz", in one write. */
function garbageAfter(type: string, chunk: Buffer) {
  return startRawFault(async (c) => {
    await c.nextRequest();
    const head = `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ntransfer-encoding: chunked\r\n\r\n`;
    await c.write(
      Buffer.concat([
        Buffer.from(`${head}${chunk.length.toString(16)}\r\n`, 'latin1'),
        chunk,
        Buffer.from('\r\nzz\r\n', 'latin1'),
      ]),
    );
    c.socket.destroy();
  });
}

test('body bytes valid before garbage in the same read reach an HTTP/1.1 client before the cut', async () => {
  const upstream = await garbageAfter('text/plain', Buffer.from('hello, '));
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }\n' }),
  );
  try {
    const res = await request(gw.url, { path: '/', headers: { 'x-request-id': 'cut' } });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true, 'the body must not look complete');
    assert.equal(res.text, 'hello, ');
    const line = await gw.logFor('cut');
    assert.equal(line.error, 'http_response_transfer_coding');
    assert.equal(line.stage, 'body_streaming');
    assert.equal(line.bytes_out, 7);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a gRPC call: the whole message before the garbage, then UNAVAILABLE in the trailers with Proxy-Status', async () => {
  const upstream = await garbageAfter('application/grpc', message);
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }\n' }),
    {},
    'http2: true',
  );
  const client = http2.connect(gw.url);
  client.on('error', () => {});
  try {
    const answer = await new Promise<{
      head: http2.IncomingHttpHeaders;
      trailers: http2.IncomingHttpHeaders | undefined;
      body: Buffer;
      rst: number | undefined;
    }>((resolve) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': '/pkg.Svc/List',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | undefined;
      const body: Buffer[] = [];
      stream.on('response', (h) => {
        head = h;
      });
      stream.on('trailers', (t) => {
        trailers = t;
      });
      stream.on('data', (c: Buffer) => body.push(c));
      stream.on('error', () => {});
      stream.on('close', () => resolve({ head, trailers, body: Buffer.concat(body), rst: stream.rstCode }));
      stream.end(message);
    });
    assert.equal(answer.head[':status'], 200);
    assert.deepEqual(answer.body, message, 'the message the upstream sent whole');
    assert.equal(answer.rst, http2.constants.NGHTTP2_NO_ERROR, 'ended by its trailers, not reset');
    assert.equal(answer.trailers?.['grpc-status'], '14');
    assert.match(
      String(answer.trailers?.['proxy-status']),
      /^edge-1; error=http_response_transfer_coding; details="invalid chunk size \\"zz\\""/,
    );
    const line = await gw.logFor(String(answer.head['x-request-id']));
    assert.equal(line.error, 'http_response_transfer_coding');
    assert.equal(line.grpc_status, 14);
    assert.equal(line.bytes_out, message.length);
  } finally {
    client.close();
    await gw.close();
    await upstream.close();
  }
});
