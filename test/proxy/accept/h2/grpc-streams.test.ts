/**
 * gRPC streams end to end (s64 audit; every case held, pinned): a @grpc/grpc-js client → a
 * gateway listener with `http2: true` (h2c) → a grpc-js server as an h2c upstream. Many
 * messages each way on client-streaming, server-streaming and bidirectional calls; messages near
 * and past grpc-js's default 4 MiB; binary metadata and grpc-status-details-bin in the head and
 * the trailers; a client's cancel, which the upstream sees as its call cancelled; a client that
 * stops reading, cut at limits.http2.send_timeout; a client's grpc-encoding gzip messages, which
 * reach the upstream as sent on a route that compresses application/*.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { type H2Fault, startH2 } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { type LogLine, startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';

const identity = (value: Buffer) => value;
const method = (
  path: string,
  responseStream: boolean,
  requestStream = false,
): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

const service: grpc.ServiceDefinition = {
  Echo: method('/t.Svc/Echo', false),
  Sized: method('/t.Svc/Sized', false),
  Count: method('/t.Svc/Count', false, true),
  Many: method('/t.Svc/Many', true),
  Chat: method('/t.Svc/Chat', true, true),
  Meta: method('/t.Svc/Meta', true),
  Hold: method('/t.Svc/Hold', true),
  Upload: method('/t.Svc/Upload', false, true),
  Flood: method('/t.Svc/Flood', true),
};

const MiB = 1024 * 1024;
/** What the server and the main client take: past grpc-js's default 4 MiB. */
const LARGE = 8 * MiB;
const HEAD_BIN = Buffer.from([0, 1, 2, 0xff]);
const TAIL_BIN = Buffer.from([9, 8, 0, 7]);
const DETAILS_BIN = Buffer.from([0x08, 0x05, 0x12, 0x01, 0xff]);

let server: grpc.Server;
let recorder: H2Fault;
let gw: TestGateway;
let client: grpc.Client;
/** The x-tag of each call the server saw cancelled, and of each upload it began. */
const cancelled: string[] = [];
const started: string[] = [];
const tagOf = (metadata: grpc.Metadata) => String(metadata.get('x-tag')[0]);

before(async () => {
  server = new grpc.Server({
    'grpc.max_receive_message_length': LARGE,
    'grpc.max_send_message_length': LARGE,
  });
  server.addService(service, {
    Echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      callback(null, call.request);
    },
    Sized(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      callback(null, Buffer.alloc(Number(call.request.toString()), 0x61));
    },
    Count(call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      let messages = 0;
      let bytes = 0;
      call.on('data', (message: Buffer) => {
        messages++;
        bytes += message.length;
      });
      call.on('end', () => callback(null, Buffer.from(`${messages} ${bytes}`)));
    },
    Many(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(`m${i}`));
      call.end();
    },
    Chat(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      call.on('cancelled', () => cancelled.push(tagOf(call.metadata)));
      call.on('data', (message: Buffer) => call.write(message));
      call.on('end', () => call.end());
    },
    Meta(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      const head = new grpc.Metadata();
      head.set('x-head-bin', HEAD_BIN);
      call.sendMetadata(head);
      call.write(Buffer.from('one'));
      const trailers = new grpc.Metadata();
      trailers.set('x-tail-bin', TAIL_BIN);
      trailers.set('grpc-status-details-bin', DETAILS_BIN);
      call.emit('error', { code: grpc.status.NOT_FOUND, details: '', metadata: trailers });
    },
    Hold(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      call.on('cancelled', () => cancelled.push(tagOf(call.metadata)));
      call.write(Buffer.from('first'));
    },
    Upload(call: grpc.ServerReadableStream<Buffer, Buffer>, _callback: grpc.sendUnaryData<Buffer>) {
      started.push(tagOf(call.metadata));
      call.on('cancelled', () => cancelled.push(tagOf(call.metadata)));
      call.on('data', () => {});
    },
    Flood(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      // 64 KiB messages as fast as the stream takes them, until cancelled.
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      let stopped = false;
      call.on('cancelled', () => {
        stopped = true;
        cancelled.push(tagOf(call.metadata));
      });
      const pump = () => {
        while (!stopped && call.write(chunk)) {}
        if (!stopped) call.once('drain', pump);
      };
      pump();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  // What a client's compressed message looks like upstream: echoed as it came, grpc-encoding gzip.
  recorder = await startH2((stream) => {
    const pieces: Buffer[] = [];
    stream.on('data', (piece: Buffer) => pieces.push(piece));
    stream.on('end', () => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' },
        { waitForTrailers: true },
      );
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(pieces));
    });
  });
  // The spool on, as by default: a gRPC call's answer never goes through it (a client that stops
  // reading holds its upstream's stream to its window, the call's own backpressure).
  gw = await startTestGateway(
    `name: edge-1
limits: { http2: { send_timeout: 300ms } }
routes:
  - match: { path: /gzip.Svc }
    upstream: recorder
    compression: { types: ["application/*"], min_size: 10 }
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${port}" }]
  recorder:
    protocol: h2c
    targets: [{ url: "${recorder.url}" }]
`,
    {},
    'http2: true',
  );
  client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': LARGE,
    'grpc.max_send_message_length': LARGE,
  });
});

after(async () => {
  client?.close();
  await gw?.close();
  server?.forceShutdown();
  await recorder?.close();
});

interface Outcome {
  value?: Buffer;
  error?: grpc.ServiceError;
}

function unary(on: grpc.Client, path: string, request: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    on.makeUnaryRequest(
      path,
      identity,
      identity,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (error, value) => resolve(error ? { error } : { value }),
    );
  });
}

function statusOf(call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>) {
  call.on('error', () => {});
  return new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
}

const tagged = (tag: string) => {
  const metadata = new grpc.Metadata();
  metadata.set('x-tag', tag);
  return metadata;
};

/** The access-log line of the one call on `path`, once written. */
async function lineFor(path: string): Promise<LogLine> {
  const find = () => gw.logs.find((l) => l.msg === 'request' && l.path === path);
  await waitUntil(`${path} logged`, () => find() !== undefined);
  return find() as LogLine;
}

/** A client's cancel: logged as a client that left (no grpc_status: it read its own CANCELLED). */
function assertCancelLogged(line: LogLine): void {
  assert.equal(line.protocol, 'HTTP/2');
  assert.equal(line.error, 'client_closed');
  assert.equal(line.details, 'client reset the stream (CANCEL)');
  assert.equal(line.client_aborted, true);
  assert.equal(line.grpc_status, undefined);
}

test('a client-streaming call of 2,000 messages: each reaches the upstream, then its one answer', async () => {
  const answer = await new Promise<Outcome>((resolve) => {
    const call = client.makeClientStreamRequest(
      '/t.Svc/Count',
      identity,
      identity,
      { deadline: Date.now() + 10_000 },
      (error, value) => resolve(error ? { error } : { value }),
    );
    for (let i = 0; i < 2000; i++) call.write(Buffer.alloc(100, i));
    call.end();
  });
  assert.equal(answer.error, undefined, answer.error?.details);
  assert.equal(answer.value?.toString(), '2000 200000');
});

test('a server-streaming call of 5,000 messages: every one, in order, then OK', async () => {
  const call = client.makeServerStreamRequest('/t.Svc/Many', identity, identity, Buffer.from('5000'), {
    deadline: Date.now() + 10_000,
  });
  const messages: string[] = [];
  call.on('data', (message: Buffer) => messages.push(message.toString()));
  const status = await statusOf(call);
  assert.equal(status.code, grpc.status.OK, status.details);
  assert.equal(messages.length, 5000);
  assert.deepEqual(messages.slice(0, 2), ['m0', 'm1']);
  assert.equal(messages[4999], 'm4999');
});

test('a bidirectional call whose client writes 1,000 messages without waiting: 1,000 answers, every byte, then OK', async () => {
  const call = client.makeBidiStreamRequest('/t.Svc/Chat', identity, identity, {
    deadline: Date.now() + 10_000,
  });
  const answers: Buffer[] = [];
  call.on('data', (answer: Buffer) => answers.push(answer));
  const ended = statusOf(call);
  for (let i = 0; i < 1000; i++) call.write(Buffer.alloc(1000, i % 256));
  call.end();
  const status = await ended;
  assert.equal(status.code, grpc.status.OK, status.details);
  assert.equal(answers.length, 1000);
  assert.ok(answers.every((answer, i) => answer.length === 1000 && answer[0] === i % 256));
});

test('a request message of 4 MiB less 10 bytes comes back whole; an answer of 6 MiB reaches a client that takes 8', async () => {
  const near = Buffer.alloc(4 * MiB - 10, 0x63);
  const echoed = await unary(client, '/t.Svc/Echo', near);
  assert.equal(echoed.error, undefined, echoed.error?.details);
  assert.ok(echoed.value?.equals(near));
  const past = await unary(client, '/t.Svc/Sized', Buffer.from(String(6 * MiB)));
  assert.equal(past.error, undefined, past.error?.details);
  assert.equal(past.value?.length, 6 * MiB);
});

test("an answer of 5 MiB to a client that takes grpc-js's default 4 MiB: the client's RESOURCE_EXHAUSTED, logged as its reset", async () => {
  const small = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  try {
    const outcome = await unary(small, '/t.Svc/Sized', Buffer.from(String(5 * MiB)));
    assert.equal(outcome.error?.code, grpc.status.RESOURCE_EXHAUSTED, outcome.error?.details);
    const find = () =>
      gw.logs.find((l) => l.msg === 'request' && l.path === '/t.Svc/Sized' && l.error !== undefined);
    await waitUntil('the reset logged', () => find() !== undefined);
    const line = find() as LogLine;
    assert.equal(line.status, 200);
    assertCancelLogged(line);
  } finally {
    small.close();
  }
});

test('binary metadata in the head and the trailers, grpc-status-details-bin and a status with an empty message after a message: all as the server sent them', async () => {
  const call = client.makeServerStreamRequest('/t.Svc/Meta', identity, identity, Buffer.from('x'), {
    deadline: Date.now() + 5000,
  });
  const head = new Promise<grpc.Metadata>((resolve) => call.on('metadata', resolve));
  const messages: string[] = [];
  call.on('data', (message: Buffer) => messages.push(message.toString()));
  const status = await statusOf(call);
  assert.equal(status.code, grpc.status.NOT_FOUND);
  assert.equal(status.details, '');
  assert.deepEqual(messages, ['one']);
  assert.deepEqual((await head).get('x-head-bin'), [HEAD_BIN]);
  assert.deepEqual(status.metadata.get('x-tail-bin'), [TAIL_BIN]);
  assert.deepEqual(status.metadata.get('grpc-status-details-bin'), [DETAILS_BIN]);
  assert.deepEqual(status.metadata.get('proxy-status'), [], 'the upstream said it, not the gateway');
  const line = await lineFor('/t.Svc/Meta');
  assert.equal(line.grpc_status, grpc.status.NOT_FOUND);
  assert.equal(line.error, undefined);
});

test('a client that cancels a server-streaming call after its first message: the upstream sees its call cancelled, the log a client that left', async () => {
  const call = client.makeServerStreamRequest(
    '/t.Svc/Hold',
    identity,
    identity,
    Buffer.from('x'),
    tagged('hold'),
    {
      deadline: Date.now() + 5000,
    },
  );
  call.on('error', () => {});
  await new Promise((resolve) => call.once('data', resolve));
  call.cancel();
  await waitUntil('the upstream saw the cancel', () => cancelled.includes('hold'));
  const line = await lineFor('/t.Svc/Hold');
  assert.equal(line.status, 200);
  assert.equal(line.stage, 'body_streaming');
  assertCancelLogged(line);
});

test('a client that cancels a client-streaming call mid-upload, and a bidirectional one after an answer: the upstream sees each cancelled', async () => {
  const upload = client.makeClientStreamRequest(
    '/t.Svc/Upload',
    identity,
    identity,
    tagged('upload'),
    { deadline: Date.now() + 5000 },
    () => {},
  );
  upload.write(Buffer.alloc(1000));
  await waitUntil('the upload reached the upstream', () => started.includes('upload'));
  upload.cancel();
  await waitUntil('the upstream saw the upload cancelled', () => cancelled.includes('upload'));
  assertCancelLogged(await lineFor('/t.Svc/Upload'));

  const chat = client.makeBidiStreamRequest('/t.Svc/Chat', identity, identity, tagged('chat'), {
    deadline: Date.now() + 5000,
  });
  chat.on('error', () => {});
  chat.write(Buffer.from('a'));
  await new Promise((resolve) => chat.once('data', resolve));
  chat.cancel();
  await waitUntil('the upstream saw the chat cancelled', () => cancelled.includes('chat'));
});

test("a grpc-js client that stops reading a server stream: cut at limits.http2.send_timeout, CANCELLED, the upstream's call cancelled", async () => {
  const reader = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  try {
    const call = reader.makeServerStreamRequest(
      '/t.Svc/Flood',
      identity,
      identity,
      Buffer.from('x'),
      tagged('flood'),
      {
        deadline: Date.now() + 20_000,
      },
    );
    call.on('data', () => call.pause());
    const status = await statusOf(call);
    assert.equal(status.code, grpc.status.CANCELLED, status.details);
    await waitUntil('the upstream saw the cut', () => cancelled.includes('flood'));
    const line = await lineFor('/t.Svc/Flood');
    assert.equal(line.status, 200);
    assert.equal(line.grpc_status, grpc.status.CANCELLED);
    assert.equal(line.error, 'http_request_error');
    assert.equal(line.details, 'client took no response bytes for 300 ms (limits.http2.send_timeout)');
    assert.equal(line.client_aborted, false);
    // Never spooled: the server's stream waited within its window, not written to a file without end.
    assert.equal(line.spooled, undefined);
  } finally {
    reader.close();
  }
});

test("a client's grpc-encoding gzip message reaches the upstream as sent (compressed flag, the field), on a route compressing application/*; its gzip answer decodes", async () => {
  const gzip = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure(), {
    'grpc.default_compression_algorithm': 2, // gzip
  });
  try {
    const body = Buffer.alloc(50_000, 0x41);
    const outcome = await unary(gzip, '/gzip.Svc/Echo', body);
    assert.equal(outcome.error, undefined, outcome.error?.details);
    assert.ok(outcome.value?.equals(body), 'the answer decoded to what was sent');
    const seen = await recorder.waitForRequest(1, { body: true });
    assert.equal(seen.headers['grpc-encoding'], 'gzip');
    assert.equal(seen.body[0], 1, "the message's compressed flag");
    assert.equal(seen.body.readUInt32BE(1), seen.body.length - 5);
    assert.ok(gunzipSync(seen.body.subarray(5)).equals(body));
    const line = await lineFor('/gzip.Svc/Echo');
    assert.equal(line.grpc_status, 0);
    assert.equal(line.encoding, undefined, "the gateway's own compression never touched it");
  } finally {
    gzip.close();
  }
});
