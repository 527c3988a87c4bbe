/**
 * One send deadline for both protocols (issue 30, item 3): the response sink owns it. An
 * HTTP/2 client that takes no byte of a proxied response for limits.http2.send_timeout has its
 * stream reset with CANCEL, and the log line says why, as an HTTP/1.1 client cut by
 * limits.send_timeout does (test/proxy/forward/slow-readers.test.ts): the gateway's cut, the
 * upstream's status, not a client that left.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { listenOnLoopback } from '../../../helpers/loopback-server.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const BIG = Buffer.alloc(8 * 1024 * 1024, 'x');
const keep = closeAfterAll();
const SMALL = Buffer.alloc(100, 'y');
const upstream = await keep(
  listenOnLoopback((req, res) => {
    if (req.url === '/grpc.Svc/Watch') {
      // A gRPC answer: one message as large as BIG, then grpc-status 0 in the trailers.
      const prefix = Buffer.from([0, 0, 0, 0, 0]);
      prefix.writeUInt32BE(BIG.length, 1);
      res.writeHead(200, { 'content-type': 'application/grpc', trailer: 'grpc-status' });
      res.write(prefix);
      res.addTrailers({ 'grpc-status': '0' });
      res.end(BIG);
      return;
    }
    const body = req.url === '/small' ? SMALL : BIG;
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  }),
);
const gw = await keep(
  startTestGateway(
    `name: edge-1
limits: { http2: { send_timeout: 300ms } }
routes:
  - upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app: { targets: [{ url: "${upstream.url}" }] }
`,
    {},
    'http2: true',
  ),
);

/**
 * Asks for `path` over a session of its own (`options`), reading nothing of the body: its 200
 * comes, then the gateway resets the stream with CANCEL.
 */
async function cancelledAfter200(
  path: string,
  requestId: string,
  options: http2.SecureClientSessionOptions,
): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${gw.port}`, options);
  try {
    const grpc = path.startsWith('/grpc.');
    const stream = session.request({
      ':path': path,
      'x-request-id': requestId,
      ...(grpc ? { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' } : {}),
    });
    if (grpc) stream.end(Buffer.from([0, 0, 0, 0, 0]));
    stream.pause();
    const status = await new Promise<number>((resolve) =>
      stream.once('response', (headers) => resolve(Number(headers[':status']))),
    );
    assert.equal(status, 200);
    const rstCode = await new Promise<number>((resolve) =>
      stream.once('close', () => resolve(stream.rstCode ?? -1)),
    );
    assert.equal(rstCode, http2.constants.NGHTTP2_CANCEL);
  } finally {
    session.destroy();
  }
}

/** The log line of a response the send deadline cut: the upstream's status, the gateway's cut. */
function saysCutAtSendDeadline(line: Record<string, unknown>): void {
  assert.equal(line.status, 200, 'the upstream answered; the status had gone out');
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.details, 'client took no response bytes for 300 ms (limits.http2.send_timeout)');
  assert.equal(line.stage, 'body_streaming');
  assert.equal(line.client_aborted, false, 'the gateway cut it, the client did not leave');
}

test('an HTTP/2 client that takes no byte of a proxied response is cut at limits.http2.send_timeout, and the log line says so', async () => {
  await cancelledAfter200('/big', 'h2-non-reader', {});
  saysCutAtSendDeadline(await gw.logFor('h2-non-reader'));
});

test('a small answer whole in one read, to a client whose window is shut, is cut at limits.http2.send_timeout too', async () => {
  // No DATA may reach this client (its stream window is 0): the answer's one DATA frame stays
  // queued after the sink's end() (the sink looks at the turn's end: h2-answer.ts), and the
  // deadline must still count it.
  await cancelledAfter200('/small', 'h2-shut-window', { settings: { initialWindowSize: 0 } });
  const line = await gw.logFor('h2-shut-window');
  assert.equal(line.protocol, 'HTTP/2');
  // The exchange was over before the cut (nobody relaying heard it): the attempt loop tells it
  // from the response, the gateway's cut, not a client that left.
  saysCutAtSendDeadline(line);
  assert.equal(line.tries, undefined, 'its one attempt ended as the request did: not listed');
});

test("a gRPC call cut at limits.http2.send_timeout is logged with the CANCELLED its client reads, not the upstream's grpc-status", async () => {
  // The upstream's trailers said 0 (OK), but the client got RST_STREAM CANCEL, which a gRPC
  // client reads as CANCELLED: the log's grpc_status said 0, a success nobody received.
  await cancelledAfter200('/grpc.Svc/Watch', 'h2-grpc-non-reader', {});
  const line = await gw.logFor('h2-grpc-non-reader');
  saysCutAtSendDeadline(line);
  assert.equal(line.grpc_status, 1);
});
