/**
 * An HTTP/2 upstream's response head that never ends, or ends past the gateway's bound. A
 * HEADERS frame without END_HEADERS followed by CONTINUATION frames for ever is the
 * CONTINUATION flood (CVE-2024-27316 and its kin): nghttp2 gives up the connection at its
 * eighth CONTINUATION, so what is held is bounded by eight frames, and the request is a 502
 * `http_protocol_error` naming it, on a connection never used again. A head that does end,
 * past the gateway's `limits.header_size` (the SETTINGS_MAX_HEADER_LIST_SIZE it announced), is
 * a 502 `http_response_header_section_size`: nghttp2 decodes the whole block (the HPACK state
 * stays in step, RFC 9113 §10.5.1), so that stream alone fails and the connection carries the
 * next request.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const PREFACE = 24;

function frame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
}

/** A literal field without indexing (RFC 7541 §6.2.2), a new name; values up to 2^14 + 126 bytes. */
function literal(name: string, value: string): Buffer {
  const length = (n: number) => (n < 127 ? [n] : [127, ((n - 127) & 0x7f) | 0x80, (n - 127) >> 7]);
  return Buffer.concat([
    Buffer.from([0, name.length]),
    Buffer.from(name),
    Buffer.from(length(value.length)),
    Buffer.from(value),
  ]);
}

const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/**
 * A raw h2c upstream: its SETTINGS after the client's preface, then `answer` for each request
 * stream (its HEADERS frame read). Counts its connections and those the gateway closed.
 */
async function rawUpstream(answer: (socket: Socket, streamId: number, nth: number) => void) {
  const counts = { connections: 0, closed: 0, streams: 0 };
  const server: Server = createServer((socket) => {
    counts.connections++;
    socket.on('error', () => {});
    socket.on('close', () => counts.closed++);
    let seen = Buffer.alloc(0);
    let settled = false;
    socket.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      if (!settled) {
        if (seen.length < PREFACE) return;
        settled = true;
        seen = seen.subarray(PREFACE);
        socket.write(Buffer.concat([frame(0x4, 0, 0), frame(0x4, 0x1, 0)]));
      }
      while (seen.length >= 9 && seen.length >= 9 + seen.readUIntBE(0, 3)) {
        const type = seen[3];
        const id = seen.readUInt32BE(5) & 0x7fffffff;
        seen = seen.subarray(9 + seen.readUIntBE(0, 3));
        if (type === HEADERS) answer(socket, id, counts.streams++);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, counts, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** CONTINUATION frames, each with one small field, for as long as the connection takes them. */
function flood(socket: Socket, streamId: number): void {
  socket.write(frame(HEADERS, 0, streamId, literal(':status', '200')));
  let n = 0;
  const more = () => {
    if (socket.destroyed) return;
    const batch = Array.from({ length: 200 }, () =>
      frame(CONTINUATION, 0, streamId, literal(`x-${n++}`, 'v')),
    );
    if (socket.write(Buffer.concat(batch))) setImmediate(more);
    else socket.once('drain', more);
  };
  more();
}

test('an endless CONTINUATION flood from an h2c upstream: 502 http_protocol_error, one line each, the connection never reused', async () => {
  const upstream = await keep(rawUpstream(flood));
  const gw = await keep(startTestGateway(singleUpstream(upstream.url, { upstream: '    protocol: h2c\n' })));
  for (const path of ['/a', '/b']) {
    const res = await request(gw.url, { path });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=http_protocol_error; details="the upstream's answer is not valid HTTP\/2 \(Too many CONTINUATION frames following a HEADER frame\)/,
    );
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  assert.deepEqual(
    lines.map((line) => [line.path, line.status, line.error]),
    [
      ['/a', 502, 'http_protocol_error'],
      ['/b', 502, 'http_protocol_error'],
    ],
  );
  assert.equal(upstream.counts.connections, 2, 'the second request on a new connection');
  assert.equal(upstream.counts.streams, 2);
});

test('a response header list past limits.header_size in CONTINUATIONs: 502 http_response_header_section_size, the connection carries the next request', async () => {
  const upstream = await keep(
    rawUpstream((socket, streamId, nth) => {
      if (nth > 0)
        return void socket.write(
          frame(HEADERS, END_HEADERS | END_STREAM, streamId, literal(':status', '204')),
        );
      // 6 × 16 KB: past the 32 KiB bound, within nghttp2's count of CONTINUATIONs.
      const blocks = Array.from({ length: 6 }, (_, i) => literal(`x-big-${i}`, 'v'.repeat(16_000)));
      socket.write(frame(HEADERS, 0, streamId, literal(':status', '200')));
      for (const [i, block] of blocks.entries())
        socket.write(frame(CONTINUATION, i === blocks.length - 1 ? END_HEADERS : 0, streamId, block));
    }),
  );
  // limits.header_size as by default: 32 KiB.
  const gw = await keep(startTestGateway(singleUpstream(upstream.url, { upstream: '    protocol: h2c\n' })));
  const first = await request(gw.url, { path: '/a' });
  assert.equal(first.status, 502);
  assert.equal(
    first.headers['proxy-status'],
    'edge-1; error=http_response_header_section_size; details="response header section larger than 32768 bytes"; next-hop="app"',
  );
  const second = await request(gw.url, { path: '/b' });
  assert.equal(second.status, 204);
  assert.deepEqual(
    gw.logs
      .filter((line) => line.msg === 'request')
      .map((line) => [line.path, line.status, line.error ?? null]),
    [
      ['/a', 502, 'http_response_header_section_size'],
      ['/b', 204, null],
    ],
  );
  assert.equal(upstream.counts.connections, 1);
});
