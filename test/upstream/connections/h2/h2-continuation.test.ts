/**
 * An HTTP/2 upstream's response head that never ends, or ends past the gateway's bound. A
 * HEADERS frame without END_HEADERS followed by CONTINUATION frames for ever is the
 * CONTINUATION flood (CVE-2024-27316 and its kin): nghttp2 gives up the connection at its
 * eighth CONTINUATION, so what is held is bounded by eight frames, and the request is a 502
 * `http_protocol_error` naming it, on a connection never used again. A head that does end,
 * past the gateway's `limits.header_size` (the SETTINGS_MAX_HEADER_LIST_SIZE it announced), is
 * a 502 `http_response_header_section_size`: nghttp2 decodes the whole block (the HPACK state
 * stays in step, RFC 9113 §10.5.1), so that stream alone fails and the connection carries the
 * next request. A flood cut the head in the middle: the fields decoded so far stay with the
 * stream, and the gateway lives on whichever of the stream and its session the collector frees
 * first (h2-native-order.ts).
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { FLAG, FRAME, frame, headerBlock } from '../../../proxy/accept/h2/h2-frames.ts';

const keep = closeAfterAll();

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** One literal field (h2-frames.ts's header block of one). */
const literal = (name: string, value: string) => headerBlock([[name, value]]);

/** CONTINUATION frames, each with one small field, for as long as the connection takes them. */
function flood(socket: Socket, streamId: number): void {
  socket.write(frame(FRAME.HEADERS, 0, streamId, literal(':status', '200')));
  let n = 0;
  const more = () => {
    if (socket.destroyed) return;
    const batch = Array.from({ length: 200 }, () =>
      frame(FRAME.CONTINUATION, 0, streamId, literal(`x-${n++}`, 'v')),
    );
    if (socket.write(Buffer.concat(batch))) setImmediate(more);
    else socket.once('drain', more);
  };
  more();
}

test('an endless CONTINUATION flood from an h2c upstream: 502 http_protocol_error, one line each, the connection never reused', async () => {
  const upstream = await keep(scriptedH2Upstream(flood));
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
  assert.equal(upstream.connections(), 2, 'the second request on a new connection');
  assert.equal(upstream.streams.length, 2);
});

test('a response header list past limits.header_size in CONTINUATIONs: 502 http_response_header_section_size, the connection carries the next request', async () => {
  const upstream = await keep(
    scriptedH2Upstream((socket, streamId) => {
      if (upstream.streams.length > 1)
        return void socket.write(
          frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, streamId, literal(':status', '204')),
        );
      // 6 × 16 KB: past the 32 KiB bound, within nghttp2's count of CONTINUATIONs.
      const blocks = Array.from({ length: 6 }, (_, i) => literal(`x-big-${i}`, 'v'.repeat(16_000)));
      socket.write(frame(FRAME.HEADERS, 0, streamId, literal(':status', '200')));
      for (const [i, block] of blocks.entries())
        socket.write(
          frame(FRAME.CONTINUATION, i === blocks.length - 1 ? FLAG.END_HEADERS : 0, streamId, block),
        );
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
  assert.equal(upstream.connections(), 1);
});

test('floods answered one after another, the collector running between them: each a 502, the gateway still up (Node aborted it when a session was freed before its cut stream)', async () => {
  const upstream = await keep(scriptedH2Upstream(flood));
  // Neither ejection nor the circuit: every flood reaches the upstream on a connection of its own.
  const gw = await keep(
    startTestGateway(
      singleUpstream(upstream.url, {
        upstream:
          '    protocol: h2c\n    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 0 }\n',
      }),
    ),
  );
  const statuses: number[] = [];
  for (let i = 0; i < 60; i++) {
    statuses.push((await request(gw.url, { path: `/${i}` })).status);
    if (i % 4 === 3) gc();
  }
  assert.deepEqual(statuses, Array(60).fill(502));
  assert.equal(upstream.connections(), 60);
});
