/**
 * The gRPC helpers that sit beside the session: `grpc-timeout` read into milliseconds (every
 * unit; anything off the grammar ignored), and a gateway-made GrpcAnswer written to the
 * HTTP/2 sink as Trailers-Only: one HEADERS frame with END_STREAM, read back by a real client.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Failure } from '../../../../src/core/failure/failure.ts';
import { buildGrpcAnswer, type GrpcAnswer } from '../../../../src/core/failure/grpc-answer.ts';
import type { AnswerSink } from '../../../../src/core/net/downstream.ts';
import { formatGrpcTimeout, parseGrpcTimeout } from '../../../../src/proxy/accept/h2/grpc-timeout.ts';
import { startH2Fixture } from './h2-fixture.ts';
import { FLAG, FRAME, headerBlock, headers, ping, RawH2Client, requestFields } from './h2-frames.ts';

/** A gateway-made gRPC answer given to the sink as the error writer gives it: head and end at once. */
function sendGrpcAnswer(sink: AnswerSink, answer: GrpcAnswer): void {
  sink.sendHead(answer.status, 'OK', answer.headers);
  sink.end();
}

test('grpc-timeout: every unit in milliseconds, exact (never rounded up: more time than the client gave)', () => {
  assert.equal(parseGrpcTimeout('2H'), 7_200_000);
  assert.equal(parseGrpcTimeout('3M'), 180_000);
  assert.equal(parseGrpcTimeout('1S'), 1_000);
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('1500u'), 1.5);
  assert.equal(parseGrpcTimeout('1u'), 0.001);
  assert.equal(parseGrpcTimeout('3n'), 0.000003);
  assert.equal(parseGrpcTimeout('1000000n'), 1);
  assert.equal(parseGrpcTimeout('0m'), 0);
  assert.equal(parseGrpcTimeout('99999999S'), 99_999_999_000);
});

test('grpc-timeout written: the finest unit 8 digits hold, rounded down (never more time than is left), none left 0u', () => {
  assert.equal(formatGrpcTimeout(1234.5678), '1234567u');
  assert.equal(formatGrpcTimeout(99_999.999), '99999999u');
  assert.equal(formatGrpcTimeout(100_000), '100000m');
  assert.equal(formatGrpcTimeout(3_600_000.9), '3600000m');
  assert.equal(formatGrpcTimeout(100_000_000), '100000S');
  assert.equal(formatGrpcTimeout(0.0009), '0u');
  assert.equal(formatGrpcTimeout(0), '0u');
  assert.equal(formatGrpcTimeout(-5), '0u');
  for (const ms of [0.5, 1, 999.9, 30_000, 7_200_000, 99_999_999_000, 1e15]) {
    const written = formatGrpcTimeout(ms);
    assert.match(written, /^[0-9]{1,8}[HMSmu]$/, `${ms}`);
    assert.ok((parseGrpcTimeout(written) as number) <= Math.ceil(ms), `${ms} → ${written}`);
  }
});

test('grpc-timeout: anything off the grammar is ignored', () => {
  for (const bad of [
    undefined,
    '',
    'S',
    '10',
    '10s',
    '10 S',
    ' 10S',
    '1.5S',
    '-1S',
    '123456789S',
    '10SS',
    '0x1S',
    '１S',
  ])
    assert.equal(parseGrpcTimeout(bad), undefined, String(bad));
});

const answer = buildGrpcAnswer(new Failure('connection_refused', 'connection refused (ECONNREFUSED)'), {
  proxyName: 'edge-1',
  requestId: 'req-9',
  nextHop: 'orders',
});

const grpcFields = (path: string) =>
  requestFields(path, 'POST', [
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);

test('a GrpcAnswer goes out as Trailers-Only: one HEADERS frame with END_STREAM', async () => {
  const fx = await startH2Fixture({ handle: (exchange) => sendGrpcAnswer(exchange.answer, answer) });
  const raw = await RawH2Client.connect(fx.port);
  try {
    raw.send(headers(1, headerBlock(grpcFields('/orders.Orders/Get'))));
    const frame = await raw.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    assert.equal(frame.flags & FLAG.END_STREAM, FLAG.END_STREAM);
    // A PING's ACK comes after anything the server had queued for the stream.
    raw.send(ping());
    await raw.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0);
    assert.equal(raw.frames.filter((f) => f.streamId === 1).length, 1);
  } finally {
    raw.close();
    await fx.close();
  }
});

test('a gRPC client reads the answer: :status 200, grpc-status 14, grpc-message, Proxy-Status, no body', async () => {
  const fx = await startH2Fixture({ handle: (exchange) => sendGrpcAnswer(exchange.answer, answer) });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    const stream = client.request(
      {
        ':method': 'POST',
        ':path': '/orders.Orders/Get',
        'content-type': 'application/grpc',
        te: 'trailers',
      },
      { endStream: true },
    );
    const fields = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
    let body = '';
    stream.on('data', (c: Buffer) => {
      body += c;
    });
    await new Promise((resolve) => stream.on('close', resolve));
    assert.equal(fields[':status'], 200);
    assert.equal(fields['content-type'], 'application/grpc');
    assert.equal(fields['grpc-status'], '14');
    assert.equal(
      fields['grpc-message'],
      'connection_refused: connection refused (ECONNREFUSED) (request id req-9)',
    );
    assert.equal(
      fields['proxy-status'],
      'edge-1; error=connection_refused; details="connection refused (ECONNREFUSED)"; next-hop="orders"',
    );
    assert.equal(fields['x-request-id'], 'req-9');
    assert.equal(body, '');
    assert.equal(stream.rstCode, 0);
  } finally {
    client.close();
    await fx.close();
  }
});

test('@grpc/grpc-js reads the answer as UNAVAILABLE with the message and metadata the gateway gave', async () => {
  const fx = await startH2Fixture({ handle: (exchange) => sendGrpcAnswer(exchange.answer, answer) });
  const client = new grpc.Client(`127.0.0.1:${fx.port}`, grpc.credentials.createInsecure());
  try {
    const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.makeUnaryRequest(
        '/orders.Orders/Get',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from('x'),
        (err) => (err === null ? reject(new Error('an answer without an error')) : resolve(err)),
      );
    });
    assert.equal(error.code, grpc.status.UNAVAILABLE);
    assert.equal(error.details, 'connection_refused: connection refused (ECONNREFUSED) (request id req-9)');
    assert.deepEqual(error.metadata.get('x-request-id'), ['req-9']);
    assert.match(String(error.metadata.get('proxy-status')[0]), /^edge-1; error=connection_refused;/);
  } finally {
    client.close();
    await fx.close();
  }
});
