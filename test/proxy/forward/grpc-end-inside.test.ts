/**
 * A gRPC answer whose upstream ends it properly (trailers `grpc-status: 0`, or END_STREAM on its
 * last DATA frame) inside a length-prefixed message: relayed as it came, the client's library
 * reads a message cut short (grpc-go: INTERNAL "unexpected EOF"; grpc-js drops the rest, a unary
 * call reading UNIMPLEMENTED "No message received", a streaming one OK) while the log said
 * nothing was wrong. The gateway knows where the messages end (grpc-cut.ts): such an answer is
 * reset, as a cut inside a message is, the client reads INTERNAL, and the log and the metric say
 * `http_response_incomplete` with the message's bytes, `grpc_status` 13. The upstream's HTTP/2
 * connection, whose stream ended properly, goes on. An answer whose last message is whole, and
 * an answer or a call that is no gRPC one, pass untouched. Raw HTTP/2 and HTTP/1.1 upstreams
 * writing exact frames, a @grpc/grpc-js client and a node:http2 one.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type ScriptedH2Upstream, scriptedH2Upstream } from '../../helpers/scripted-h2-upstream.ts';
import { type ScriptedUpstream, scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { FLAG, FRAME, frame, headerBlock, headers } from '../accept/h2/h2-frames.ts';

const identity = (value: Buffer) => value;

/** One gRPC message: the flag byte, the length, the bytes. */
function message(text: string): Buffer {
  const bytes = Buffer.from(text);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([prefix, bytes]);
}

/** A whole message, then the prefix of one announcing 100 bytes and 40 of them. */
const cutShort = Buffer.concat([message('item 1'), Buffer.from([0, 0, 0, 0, 100]), Buffer.alloc(40, 0x61)]);

/**
 * A gRPC head of `type`, `body` in one DATA frame, then trailers `grpc-status: 0` or (`dataEnds`)
 * END_STREAM on that DATA frame: the stream ends properly, its connection kept up.
 */
function answering(
  body: Buffer,
  how: 'trailers' | 'dataEnds',
  type = 'application/grpc',
  trailers: [string, string][] = [['grpc-status', '0']],
) {
  return scriptedH2Upstream((socket, stream) => {
    const head = headerBlock([
      [':status', '200'],
      ['content-type', type],
    ]);
    const ends = how === 'dataEnds';
    socket.write(
      Buffer.concat([
        headers(stream, head, { endStream: false }),
        frame(FRAME.DATA, ends ? FLAG.END_STREAM : 0, stream, body),
      ]),
    );
    // Apart from the head and the body: the head has gone downstream by then.
    if (!ends) setTimeout(() => socket.write(headers(stream, headerBlock(trailers))), 30);
  });
}

const h2: Record<string, ScriptedH2Upstream> = {};
let h1: ScriptedUpstream | undefined;
let gw: TestGateway | undefined;
let client: grpc.Client | undefined;

before(async () => {
  h2.trailers = await answering(cutShort, 'trailers');
  h2.dataEnds = await answering(cutShort, 'dataEnds');
  // Inside the next message's five-byte prefix.
  h2.prefix = await answering(Buffer.concat([message('item 1'), Buffer.from([0, 0, 0])]), 'trailers');
  h2.whole = await answering(Buffer.concat([message('item 1'), message('item 2')]), 'trailers');
  h2.wholeDataEnds = await answering(Buffer.concat([message('item 1'), message('item 2')]), 'dataEnds');
  h2.json = await answering(cutShort, 'trailers', 'application/json');
  // Whole messages, then trailers saying grpc-status twice: not alike, and alike.
  const both = Buffer.concat([message('item 1'), message('item 2')]);
  h2.twice = await answering(both, 'trailers', 'application/grpc', [
    ['grpc-status', '0'],
    ['grpc-status', '13'],
  ]);
  h2.twiceSame = await answering(both, 'trailers', 'application/grpc', [
    ['grpc-status', '0'],
    ['grpc-status', '0'],
  ]);
  // An HTTP/1.1 upstream (a gRPC call from an HTTP/2 client): chunked, then its trailer section.
  h1 = await scriptedUpstream((socket) => {
    socket.write(
      'HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\n\r\n' +
        `${cutShort.length.toString(16)}\r\n`,
    );
    socket.write(cutShort);
    socket.write('\r\n0\r\ngrpc-status: 0\r\n\r\n');
  });
  const upstreams = Object.entries(h2)
    .map(
      ([name, up]) =>
        `  ${name}:\n    protocol: h2c\n    targets: [{ url: "${up.url}" }]\n    retries: { attempts: 1 }\n${name === 'dataEnds' ? '    outlier_detection: { consecutive_failures: 2, base_ejection_time: 60s }\n' : ''}`,
    )
    .join('');
  const routes = [...Object.keys(h2), 'http1']
    .map((name) => `  - { match: { path: /${name}.Svc }, upstream: ${name} }\n`)
    .join('');
  gw = await startTestGateway(
    `name: edge-1\nroutes:\n${routes}upstreams:\n${upstreams}  http1:\n    targets: [{ url: "${h1.url}" }]\n    retries: { attempts: 1 }\n`,
    {},
    'http2: true',
  );
  client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await gw?.close();
  await Promise.all([...Object.values(h2).map((up) => up.close()), h1?.close()]);
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

/** The access line of the nth call to `path` (1-based). */
async function lineOf(path: string, nth = 1) {
  const lines = () => gw!.logs.filter((l) => l.msg === 'request' && l.path === path);
  for (let i = 0; i < 100 && lines().length < nth; i++) await new Promise((r) => setTimeout(r, 20));
  const line = lines()[nth - 1];
  assert.ok(line, `${path} logged`);
  return line;
}

/** That candor_grpc_responses_total counted `count` gateway-told INTERNALs on the route of `path`. */
async function countedInternal(path: string, count: number) {
  const text = (await gw!.gateway.metrics.exposition()).text;
  const route = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('candor_grpc_responses_total{') &&
        l.includes('grpc_status="13"') &&
        l.includes('origin="gateway"') &&
        l.includes(`route="${path}"`),
    );
  assert.ok(route, `candor_grpc_responses_total counts ${path}'s INTERNAL as the gateway's:\n${text}`);
  assert.ok(route.endsWith(` ${count}`), route);
}

for (const [name, how] of [
  ['trailers', 'then trailers grpc-status 0'],
  ['dataEnds', 'then END_STREAM on its DATA frame, no trailers'],
] as const)
  test(`the upstream ends its answer inside a message, ${how}: the client's stream is reset (INTERNAL), the log says http_response_incomplete with the message's bytes, the upstream's connection goes on`, async () => {
    const path = `/${name}.Svc/List`;
    for (const nth of [1, 2]) {
      const { items, status } = await list(path);
      assert.deepEqual(items, ['item 1']);
      assert.equal(status.code, grpc.status.INTERNAL, status.details);
      assert.match(status.details, /RST_STREAM with code 2/);
      const line = await lineOf(path, nth);
      assert.equal(line.status, 200);
      assert.equal(line.error, 'http_response_incomplete');
      assert.equal(line.stage, 'body_streaming');
      assert.match(
        String(line.details),
        /^response body cut short: the upstream ended the answer inside gRPC message 2, after 40 of its 100 bytes/,
      );
      assert.equal(line.grpc_status, grpc.status.INTERNAL);
    }
    await countedInternal(`/${name}.Svc`, 2);
    // The stream ended properly: its HTTP/2 connection carried the second call too.
    assert.equal(h2[name].connections(), 1);
    // A cut after the head: it judges the target as any other (two in a row eject it there).
    if (name === 'dataEnds') {
      const ejected = gw!.logs.filter((l) => l.msg === 'target ejected');
      assert.equal(ejected.length, 1, JSON.stringify(ejected));
      assert.equal(ejected[0].reason, 'http_response_incomplete');
    }
  });

test("ended inside a message's five-byte prefix: reset too, the details say how many of its bytes came", async () => {
  const { items, status } = await list('/prefix.Svc/List');
  assert.deepEqual(items, ['item 1']);
  assert.equal(status.code, grpc.status.INTERNAL, status.details);
  const line = await lineOf('/prefix.Svc/List');
  assert.equal(line.error, 'http_response_incomplete');
  assert.match(
    String(line.details),
    /^response body cut short: the upstream ended the answer inside gRPC message 2, after 3 of the 5 bytes of its length prefix/,
  );
  assert.equal(line.grpc_status, grpc.status.INTERNAL);
});

test('an HTTP/1.1 upstream whose chunked answer ends inside a message, then a trailer section with grpc-status 0: the same', async () => {
  const { items, status } = await list('/http1.Svc/List');
  assert.deepEqual(items, ['item 1']);
  assert.equal(status.code, grpc.status.INTERNAL, status.details);
  const line = await lineOf('/http1.Svc/List');
  assert.equal(line.error, 'http_response_incomplete');
  assert.match(String(line.details), /inside gRPC message 2, after 40 of its 100 bytes/);
  assert.equal(line.grpc_status, grpc.status.INTERNAL);
});

for (const name of ['whole', 'wholeDataEnds'])
  test(`an answer whose last message is whole (${name === 'whole' ? 'trailers grpc-status 0' : 'END_STREAM on its DATA'}) is untouched`, async () => {
    const path = `/${name}.Svc/List`;
    const { items, status } = await list(path);
    assert.deepEqual(items, ['item 1', 'item 2']);
    const line = await lineOf(path);
    assert.equal(line.error, undefined);
    if (name === 'whole') {
      assert.equal(status.code, grpc.status.OK, status.details);
      assert.equal(line.grpc_status, grpc.status.OK);
    } else {
      // No status at all: what the client reads of it, as before (grpc-empty-end.test.ts), and
      // no reset (grpc-js names the stream's end code 0).
      assert.equal(status.code, grpc.status.INTERNAL, status.details);
      assert.equal(status.details, 'Received RST_STREAM with code 0 (Call ended without gRPC status)');
      assert.equal(line.grpc_status, grpc.status.INTERNAL);
    }
  });

test("trailers whose grpc-status lines disagree (0, then 13): cut as garbage after the head, the gateway's own status ends the stream, the log says which values", async () => {
  const { items, status } = await list('/twice.Svc/List');
  assert.deepEqual(items, ['item 1', 'item 2']);
  // At a message boundary: ended with the failure's status (grpc-cut.ts), not the upstream's either.
  assert.equal(status.code, grpc.status.UNAVAILABLE, status.details);
  const line = await lineOf('/twice.Svc/List');
  assert.equal(line.status, 200);
  assert.equal(line.error, 'http_protocol_error');
  assert.equal(line.stage, 'body_streaming');
  assert.match(String(line.details), /^the upstream's trailers say grpc-status 2 times, not alike \(0, 13\)/);
  assert.equal(line.grpc_status, grpc.status.UNAVAILABLE);
});

test('trailers saying grpc-status 0 twice: the client reads one 0 (not "0, 0", no code to grpc-js), no error', async () => {
  const { items, status } = await list('/twiceSame.Svc/List');
  assert.deepEqual(items, ['item 1', 'item 2']);
  assert.equal(status.code, grpc.status.OK, status.details);
  const line = await lineOf('/twiceSame.Svc/List');
  assert.equal(line.error, undefined);
  assert.equal(line.grpc_status, grpc.status.OK);
});

test('a 200 that is no gRPC answer (application/json), whatever its bytes: relayed as it came, no error', async () => {
  const { status } = await list('/json.Svc/List');
  assert.doesNotMatch(status.details, /RST_STREAM/);
  const line = await lineOf('/json.Svc/List');
  assert.equal(line.error, undefined);
  assert.equal(line.grpc_status, grpc.status.OK);
});

test('a call that is no gRPC one (no application/grpc in its request) gets a gRPC-typed answer cut short as it came, whole', async () => {
  const session = http2.connect(gw!.url);
  try {
    const stream = session.request({ ':path': '/trailers.Svc/Plain', accept: '*/*' });
    stream.end();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
      stream.on('trailers', resolve),
    );
    await new Promise((resolve) => stream.on('close', resolve));
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    assert.deepEqual(Buffer.concat(chunks), cutShort);
    assert.equal(trailers['grpc-status'], '0');
    const line = await lineOf('/trailers.Svc/Plain');
    assert.equal(line.error, undefined);
    assert.equal(line.grpc_status, undefined);
  } finally {
    session.close();
  }
});
