/**
 * A streamed request body (a gRPC call's, one on a route with `request_buffering: false`) the
 * upstream said it never processed after part of it went (its HTTP/2 stream refused, or above a
 * GOAWAY's last stream: RFC 9113 §8.7, how a loaded or restarting gRPC server sheds calls) goes
 * again, whole, to the next target, when no more than `retries.replay_body` of it had been taken:
 * the gateway kept what it sent. Past that bound it is not retried (`body_not_replayable`).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2, { constants as h2 } from 'node:http2';
import { after, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { type H2Behaviour, startH2 } from '../../src/kits/fault-kit/h2-faults.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const open: { close(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});
async function keep<T extends { close(): Promise<void> }>(made: Promise<T>): Promise<T> {
  const it = await made;
  open.push(it);
  return it;
}

/** Refuses the stream (REFUSED_STREAM) once `after` bytes of its body came. */
const refuseAfter =
  (after: number): H2Behaviour =>
  (stream) => {
    let got = 0;
    stream.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= after && !stream.closed) stream.close(h2.NGHTTP2_REFUSED_STREAM);
    });
  };

/** Answers 200 with the body it got, once whole; a gRPC call with its status in trailers. */
const echo: H2Behaviour = (stream, request) => {
  const pieces: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => pieces.push(chunk));
  stream.on('end', () => {
    const body = Buffer.concat(pieces);
    const grpc = String(request.rawHeaders.find(([n]) => n.toLowerCase() === 'content-type')?.[1]).startsWith(
      'application/grpc',
    );
    if (!grpc) {
      stream.respond({ ':status': 200, 'content-length': String(body.length) });
      return stream.end(body);
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(body);
  });
};

function gatewayTo(urls: string[], retries = '', listener = ''): Promise<TestGateway> {
  const targets = urls.map((url) => `      - url: ${url}\n`).join('');
  return keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
    request_buffering: false
upstreams:
  app:
    protocol: h2c
    targets:
${targets}    timeouts: { connect: 1s, response: 2s, read: 2s, total: 10s }
${retries}`,
      {},
      listener,
    ),
  );
}

/** A body of `size` bytes, each its offset's low byte: a piece sent twice or lost shows. */
const bodyOf = (size: number) => Buffer.from(Array.from({ length: size }, (_, i) => i % 251));

/** A chunked POST (streamed: its length not announced), its body in pieces, the last after the first target saw the stream. */
async function streamedPost(
  gw: TestGateway,
  id: string,
  body: Buffer,
  first: Fault,
): Promise<http.IncomingMessage> {
  const req = http.request(`${gw.url}/upload`, {
    method: 'POST',
    headers: { 'x-request-id': id, 'transfer-encoding': 'chunked' },
    agent: false,
  });
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  const half = body.length >> 1;
  req.write(body.subarray(0, half));
  await first.waitForRequest(1);
  req.end(body.subarray(half));
  return answered;
}

async function readAll(res: http.IncomingMessage): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of res) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

test('a streamed body refused after part of it went, within replay_body: the next target gets it whole, once', async () => {
  const refusing = await keep(startH2(refuseAfter(10_000)));
  const healthy = await keep(startH2(echo));
  const gw = await gatewayTo([refusing.url, healthy.url], '    balancer: round_robin\n');
  const body = bodyOf(40_000);
  const res = await streamedPost(gw, 'refused-within', body, refusing);
  assert.equal(res.statusCode, 200);
  assert.ok((await readAll(res)).equals(body), 'the answer echoes the whole body');
  const [seen] = await Promise.all([healthy.waitForRequest(1, { body: true })]);
  assert.equal(seen.body.length, body.length);
  assert.ok(seen.body.equals(body), 'the next target got every byte, in order, none twice');
  assert.ok(refusing.received[0].bodyLength >= 10_000, 'part of it had gone to the first');
  const line = await gw.logFor('refused-within');
  assert.equal(line.status, 200);
  assert.equal(line.attempts, 2);
  assert.equal(line.retry_skipped, undefined);
});

test('the same body past replay_body when refused: not retried, the body named why', async () => {
  const first = await keep(startH2(refuseAfter(10_000)));
  const second = await keep(startH2(echo));
  const gw = await gatewayTo([first.url, second.url], '    retries: { replay_body: 4KiB }\n');
  const res = await streamedPost(gw, 'refused-past', bodyOf(40_000), first);
  await readAll(res);
  assert.equal(res.statusCode, 502);
  assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_terminated; details="/);
  const line = await gw.logFor('refused-past');
  assert.deepEqual([line.attempts, line.stage, line.retry_skipped], [1, 'sent', 'body_not_replayable']);
  assert.equal(second.received.length, 0, 'nothing reached the next target');
});

test('a gRPC call whose stream the server refuses after part of its body came goes whole to the other target: grpc-status 0', async () => {
  const refusing = await keep(startH2(refuseAfter(3_000)));
  const healthy = await keep(startH2(echo));
  const gw = await gatewayTo([refusing.url, healthy.url], '', 'http2: true');
  // One message of 20 000 bytes: 5 bytes of gRPC framing, then the payload.
  const payload = bodyOf(20_000);
  const message = Buffer.concat([Buffer.from([0, 0, 0, 0x4e, 0x20]), payload]);
  const client = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const answer = await new Promise<{ status: unknown; grpc: unknown; body: Buffer }>((resolve, reject) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': '/shop.Orders/Put',
        'content-type': 'application/grpc',
        te: 'trailers',
        'x-request-id': 'grpc-refused',
      });
      let status: unknown;
      let grpc: unknown;
      const pieces: Buffer[] = [];
      stream.on('response', (h) => {
        status = h[':status'];
        grpc = h['grpc-status'];
      });
      stream.on('trailers', (t) => {
        grpc = t['grpc-status'];
      });
      stream.on('data', (c: Buffer) => pieces.push(c));
      stream.on('end', () => resolve({ status, grpc, body: Buffer.concat(pieces) }));
      stream.on('error', reject);
      stream.write(message.subarray(0, 8_000));
      refusing.waitForRequest(1).then(() => stream.end(message.subarray(8_000)), reject);
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.grpc, '0');
    assert.ok(answer.body.equals(message), 'the message came back whole');
  } finally {
    client.close();
  }
  const [seen] = await Promise.all([healthy.waitForRequest(1, { body: true })]);
  assert.ok(seen.body.equals(message), 'the other target got the whole message');
  const line = await gw.logFor('grpc-refused');
  assert.deepEqual([line.protocol, line.grpc_status, line.attempts], ['HTTP/2', 0, 2]);
});

test('an HTTP/2 stream refused after part of a streamed body went, one target: the same target again, on the body kept', async () => {
  let calls = 0;
  // Refuses the first stream once part of its body came, then answers.
  const flaky = await keep(
    startH2((stream, request) => {
      calls++;
      if (calls === 1) return refuseAfter(5_000)(stream, request);
      echo(stream, request);
    }),
  );
  const gw = await gatewayTo([flaky.url]);
  const body = bodyOf(30_000);
  const res = await streamedPost(gw, 'one-target', body, flaky);
  assert.equal(res.statusCode, 200);
  assert.ok((await readAll(res)).equals(body));
  const line = await gw.logFor('one-target');
  assert.deepEqual([line.status, line.attempts], [200, 2]);
});
