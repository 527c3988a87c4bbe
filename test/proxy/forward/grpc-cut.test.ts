/**
 * A gRPC response cut after its head (README, the gRPC table): gRPC carries its status in the
 * trailers, so a response cut at a message boundary ends with the failure's `grpc-status` and
 * `grpc-message` (UNAVAILABLE for a reset, DEADLINE_EXCEEDED for a stall), never as if whole;
 * one cut inside a message is reset, which a gRPC client reads as INTERNAL, whether the upstream's
 * connection dropped or it reset the stream alone (RST_STREAM, its connection up). The log's
 * `grpc_status` is what the client read. A @grpc/grpc-js client, a node:http2 upstream (a raw one
 * for a stream reset alone).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { candorReader } from '../../../src/kits/explain/readers/candor-reader.ts';
import {
  dropH2Connection,
  type H2Behaviour,
  type H2Fault,
  startH2,
} from '../../../src/kits/fault-kit/h2-faults.ts';
import { scriptedH2Upstream } from '../../helpers/scripted-h2-upstream.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { ERROR, FRAME, frame, headerBlock, headers, rstStream } from '../accept/h2/h2-frames.ts';

const identity = (value: Buffer) => value;

/** One gRPC message: the flag byte, the length, the bytes. */
function message(text: string): Buffer {
  const bytes = Buffer.from(text);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([prefix, bytes]);
}

/** Answers with a gRPC head and `sent`, then does `then` to the stream's connection (or nothing: a stall). */
function cutAfter(sent: Buffer, then?: 'drop'): H2Behaviour {
  return (stream) => {
    stream.on('data', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.write(sent, () => {
      if (then === 'drop') setTimeout(() => dropH2Connection(stream), 30);
    });
  };
}

/**
 * Written frame by frame (node:http2's close() ends a stream before resetting it): a gRPC head,
 * `sent` in one DATA frame, then RST_STREAM INTERNAL_ERROR on that stream alone, its connection
 * kept up.
 */
function resetAfter(sent: Buffer) {
  return scriptedH2Upstream((socket, stream) => {
    const head = headerBlock([
      [':status', '200'],
      ['content-type', 'application/grpc'],
    ]);
    socket.write(
      Buffer.concat([headers(stream, head, { endStream: false }), frame(FRAME.DATA, 0, stream, sent)]),
    );
    setTimeout(() => socket.write(rstStream(stream, ERROR.INTERNAL_ERROR)), 30);
  });
}

const faults: Record<string, Pick<H2Fault, 'url' | 'close'>> = {};
let gw: TestGateway | undefined;
let client: grpc.Client | undefined;

before(async () => {
  const twoMessages = Buffer.concat([message('item 1'), message('item 2')]);
  faults.dropped = await startH2(cutAfter(twoMessages, 'drop'));
  faults.stalled = await startH2(cutAfter(twoMessages));
  // A head announcing both messages' length (a content-length gRPC does not need, but may get),
  // and the first message alone before the drop: a boundary, short of that length.
  faults.announced = await startH2((stream) => {
    stream.on('data', () => {});
    stream.respond({
      ':status': 200,
      'content-type': 'application/grpc',
      'content-length': String(twoMessages.length),
    });
    stream.write(message('item 1'), () => setTimeout(() => dropH2Connection(stream), 30));
  });
  faults.midMessage = await startH2(
    cutAfter(Buffer.concat([message('item 1'), message('item 2').subarray(0, 8)]), 'drop'),
  );
  faults.resetMidMessage = await resetAfter(
    Buffer.concat([message('item 1'), message('item 2').subarray(0, 8)]),
  );
  faults.resetAtBoundary = await resetAfter(twoMessages);
  const upstreams = Object.entries(faults)
    .map(
      ([name, fault]) =>
        `  ${name}:\n    protocol: h2c\n    targets: [{ url: "${fault.url}" }]\n    retries: { attempts: 1 }\n    timeouts: { read: 300ms }\n`,
    )
    .join('');
  const routes = Object.keys(faults)
    .map((name) => `  - { match: { path: /${name}.Svc }, upstream: ${name} }\n`)
    .join('');
  // The same upstream behind a compressing route: a gRPC answer it never compresses (its client
  // asks for no HTTP coding) is cut the same way.
  const compressing = '  - { match: { path: /compressing.Svc }, upstream: dropped, compression: {} }\n';
  gw = await startTestGateway(
    `name: edge-1\nroutes:\n${compressing}${routes}upstreams:\n${upstreams}`,
    {},
    'http2: true',
  );
  client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await gw?.close();
  await Promise.all(Object.values(faults).map((fault) => fault.close()));
});

/** A server-streaming call: the messages read, and the status it ended with (bounded by its 5 s deadline). */
async function list(path: string): Promise<{ items: string[]; status: grpc.StatusObject }> {
  const call = client!.makeServerStreamRequest(path, identity, identity, Buffer.from('x'), {
    deadline: Date.now() + 5000,
  });
  const items: string[] = [];
  call.on('data', (item: Buffer) => items.push(item.toString()));
  call.on('error', () => {});
  const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return { items, status };
}

/** The status's request id, its access-log line, and that grpc-message names the type and the id. */
async function lineOf(status: grpc.StatusObject, type: string, details: RegExp) {
  const match = /^([a-z_]+): (.*) \(request id ([^)]+)\)$/.exec(status.details);
  assert.ok(match, `grpc-message "${status.details}" names the type, the details and the request id`);
  assert.equal(match[1], type);
  assert.match(match[2], details);
  return gw!.logFor(match[3]);
}

test('the upstream dropped after whole messages: they arrive, then UNAVAILABLE naming http_response_incomplete', async () => {
  const { items, status } = await list('/dropped.Svc/List');
  assert.deepEqual(items, ['item 1', 'item 2']);
  assert.equal(status.code, grpc.status.UNAVAILABLE, status.details);
  const line = await lineOf(
    status,
    'http_response_incomplete',
    /^response body cut short: connection closed/,
  );
  assert.equal(line.status, 200);
  assert.equal(line.error, 'http_response_incomplete');
  assert.equal(line.grpc_status, grpc.status.UNAVAILABLE);
  // The trailers are the gateway's own error: they carry its Proxy-Status, as its Trailers-Only answer does.
  assert.deepEqual(status.metadata.get('proxy-status'), [
    `edge-1; error=http_response_incomplete; details="${line.details}"; next-hop="dropped"`,
  ]);
  // candor explain reads it as the gateway's status, not the upstream's (whose head was a 200).
  const read = candorReader.read(JSON.stringify(line));
  assert.deepEqual(read && 'grpc' in read ? read.grpc : undefined, { status: 14, producedBy: 'proxy' });
});

test('the same on a route with compression (which a gRPC answer does not get): UNAVAILABLE, not a reset read as INTERNAL', async () => {
  const { items, status } = await list('/compressing.Svc/List');
  assert.deepEqual(items, ['item 1', 'item 2']);
  assert.equal(status.code, grpc.status.UNAVAILABLE, status.details);
  const line = await lineOf(status, 'http_response_incomplete', /^response body cut short/);
  assert.equal(line.grpc_status, grpc.status.UNAVAILABLE);
  assert.equal(line.encoding, undefined);
});

test('the upstream stalled after whole messages: DEADLINE_EXCEEDED naming connection_read_timeout', async () => {
  const { items, status } = await list('/stalled.Svc/List');
  assert.deepEqual(items, ['item 1', 'item 2']);
  assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED, status.details);
  const line = await lineOf(
    status,
    'connection_read_timeout',
    /^response body stalled \(read timeout of 300 ms\)/,
  );
  assert.equal(line.error, 'connection_read_timeout');
  assert.equal(line.grpc_status, grpc.status.DEADLINE_EXCEEDED);
  assert.deepEqual(status.metadata.get('proxy-status'), [
    `edge-1; error=connection_read_timeout; details="${line.details}"; next-hop="stalled"`,
  ]);
});

test('cut inside a message: the stream is reset (never a message cut short and a status), the client reads INTERNAL, and so does the log', async () => {
  const { items, status } = await list('/midMessage.Svc/List');
  assert.deepEqual(items, ['item 1']);
  assert.equal(status.code, grpc.status.INTERNAL);
  assert.match(status.details, /RST_STREAM with code 2/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const line = gw!.logs.find((l) => l.msg === 'request' && l.path === '/midMessage.Svc/List');
  assert.ok(line, 'logged');
  assert.equal(line.error, 'http_response_incomplete');
  assert.equal(line.grpc_status, grpc.status.INTERNAL);
});

test('cut at a message boundary short of the content-length its head announced: reset, never ended (the client would refuse an end short of it), and the log says the INTERNAL the client reads', async () => {
  const { items, status } = await list('/announced.Svc/List');
  assert.deepEqual(items, ['item 1']);
  // Trailers there would end the stream short of its content-length: malformed (RFC 9113
  // §8.1.1), which the client's HTTP/2 layer resets PROTOCOL_ERROR, never reading them.
  assert.equal(status.code, grpc.status.INTERNAL);
  assert.match(status.details, /RST_STREAM with code 2/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const line = gw!.logs.find((l) => l.msg === 'request' && l.path === '/announced.Svc/List');
  assert.ok(line, 'logged');
  assert.equal(line.error, 'http_response_incomplete');
  assert.equal(line.grpc_status, grpc.status.INTERNAL);
});

test('the upstream reset the stream alone inside a message (its connection up): the client stream is reset too, and reads INTERNAL', async () => {
  const { items, status } = await list('/resetMidMessage.Svc/List');
  assert.deepEqual(items, ['item 1']);
  assert.equal(status.code, grpc.status.INTERNAL, status.details);
  assert.match(status.details, /RST_STREAM with code 2/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const line = gw!.logs.find((l) => l.msg === 'request' && l.path === '/resetMidMessage.Svc/List');
  assert.ok(line, 'logged');
  assert.equal(line.grpc_status, grpc.status.INTERNAL);
});

test("the upstream reset the stream alone after whole messages: they arrive, then UNAVAILABLE with the gateway's Proxy-Status", async () => {
  const { items, status } = await list('/resetAtBoundary.Svc/List');
  assert.deepEqual(items, ['item 1', 'item 2']);
  assert.equal(status.code, grpc.status.UNAVAILABLE, status.details);
  const line = await lineOf(status, String(status.details.split(':')[0]), /INTERNAL_ERROR/);
  assert.equal(line.grpc_status, grpc.status.UNAVAILABLE);
  assert.deepEqual(status.metadata.get('proxy-status'), [
    `edge-1; error=${line.error}; details="${line.details}"; next-hop="resetAtBoundary"`,
  ]);
});
