/**
 * A GOAWAY with two streams of the gateway's in flight splits them by its last stream id (RFC
 * 9113 §6.8, §8.7): the one at or below it the upstream may have processed, so when the
 * connection then closes without its answer it is told as the failure it is (a POST: 502
 * `connection_terminated`, stage `sent`, naming the GOAWAY, never sent again); the one above it
 * was never processed, and goes again on a new connection (stage `not_sent`), answered.
 * The single-stream cases are h2-upstream.test.ts's; this pins the split.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { FLAG, FRAME, frame, headerBlock } from '../../../proxy/accept/h2/h2-frames.ts';

test('GOAWAY (NO_ERROR, last stream 3) with streams 3 and 5 in flight, then a close: 3 is a 502 never sent again, 5 goes again and is answered', async () => {
  const streamsOf = new WeakMap<Socket, number>();
  const upstream = await scriptedH2Upstream((socket, id) => {
    const n = (streamsOf.get(socket) ?? 0) + 1;
    streamsOf.set(socket, n);
    const answer = (text: string) =>
      socket.write(
        Buffer.concat([
          frame(FRAME.HEADERS, FLAG.END_HEADERS, id, headerBlock([[':status', '200']])),
          frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from(text)),
        ]),
      );
    // A connection's first stream (the warm-up, and the retry on a new connection) is answered;
    // its second is held; its third brings the GOAWAY that leaves the second processed, and the close.
    if (n === 1) return answer(`answered on stream ${id}`);
    if (n === 3) {
      const goaway = Buffer.alloc(8);
      goaway.writeUInt32BE(id - 2, 0);
      socket.write(frame(FRAME.GOAWAY, 0, 0, goaway));
      setTimeout(() => socket.destroy(), 100);
    }
  });
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - { match: { path: / }, upstream: app }\nupstreams:\n  app:\n    protocol: h2c\n    targets: [{ url: "${upstream.url}" }]\n`,
  );
  try {
    // The connection's SETTINGS came: the next two requests share it, as streams 3 and 5.
    assert.equal((await request(gw.url, { path: '/warm' })).status, 200);
    const processed = request(gw.url, {
      method: 'POST',
      path: '/a',
      headers: { 'x-request-id': 'a' },
      body: 'aa',
    });
    while (upstream.streams.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const unprocessed = request(gw.url, {
      method: 'POST',
      path: '/b',
      headers: { 'x-request-id': 'b' },
      body: 'bb',
    });
    const [a, b] = await Promise.all([processed, unprocessed]);
    assert.deepEqual(upstream.streams, [1, 3, 5, 1], 'stream 5 went again, on a new connection');

    assert.equal(a.status, 502);
    assert.match(
      String(a.headers['proxy-status']),
      /^edge-1; error=connection_terminated; details="the upstream closed the HTTP\/2 connection \(GOAWAY NO_ERROR, last stream 3\) before the response head after [\d.]+ m?s"; next-hop="app"$/,
    );
    const lineA = await gw.logFor('a');
    assert.deepEqual(
      [lineA.status, lineA.error, lineA.stage, lineA.attempts, lineA.retry_skipped],
      [502, 'connection_terminated', 'sent', 1, 'not_idempotent'],
    );

    assert.equal(b.status, 200);
    assert.equal(b.text, 'answered on stream 1');
    const lineB = await gw.logFor('b');
    assert.equal(lineB.status, 200);
    assert.deepEqual(
      (lineB.tries as { error?: string; stage?: string; status?: number }[]).map((t) => [
        t.error,
        t.stage,
        t.status,
      ]),
      [
        ['connection_terminated', 'not_sent', undefined],
        [undefined, undefined, 200],
      ],
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a graceful shutdown in two GOAWAYs (2^31 - 1, then the real last stream, RFC 9113 §6.8): the stream at it is answered, the one above it goes again on a new connection, the next request too', async () => {
  const streamsOf = new WeakMap<Socket, number>();
  const goaway = (last: number) => {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(last, 0);
    return frame(FRAME.GOAWAY, 0, 0, payload);
  };
  const upstream = await scriptedH2Upstream((socket, id) => {
    const n = (streamsOf.get(socket) ?? 0) + 1;
    streamsOf.set(socket, n);
    const answer = (stream: number) =>
      socket.write(
        Buffer.concat([
          frame(FRAME.HEADERS, FLAG.END_HEADERS, stream, headerBlock([[':status', '200']])),
          frame(
            FRAME.DATA,
            FLAG.END_STREAM,
            stream,
            Buffer.from(`answered on connection ${upstream.connections()}, stream ${stream}`),
          ),
        ]),
      );
    // On the first connection: the warm-up is answered; stream 3 is held; stream 5 brings the
    // shutdown: the notice (2^31 - 1), the real last stream (3) a moment later, then stream 3's
    // answer and the close. Every later connection answers at once.
    if (upstream.connections() > 1 || n === 1) return answer(id);
    if (n === 3) {
      socket.write(goaway(2 ** 31 - 1));
      setTimeout(() => socket.write(goaway(id - 2)), 50);
      setTimeout(() => answer(id - 2), 100);
      setTimeout(() => socket.end(), 150);
    }
  });
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - { match: { path: / }, upstream: app }\nupstreams:\n  app:\n    protocol: h2c\n    targets: [{ url: "${upstream.url}" }]\n`,
  );
  try {
    assert.equal((await request(gw.url, { path: '/warm' })).status, 200);
    const processed = request(gw.url, {
      method: 'POST',
      path: '/a',
      headers: { 'x-request-id': 'a' },
      body: 'a',
    });
    while (upstream.streams.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const unprocessed = request(gw.url, {
      method: 'POST',
      path: '/b',
      headers: { 'x-request-id': 'b' },
      body: 'b',
    });
    const [a, b] = await Promise.all([processed, unprocessed]);
    assert.deepEqual([a.status, b.status], [200, 200]);
    assert.equal(b.text, 'answered on connection 2, stream 1');
    const lineB = await gw.logFor('b');
    assert.deepEqual(
      (lineB.tries as { error?: string; stage?: string; status?: number }[]).map((t) => [
        t.error,
        t.stage,
        t.status,
      ]),
      [
        ['connection_terminated', 'not_sent', undefined],
        [undefined, undefined, 200],
      ],
    );
    assert.equal((await gw.logFor('a')).attempts, 1);
    // The connection that said it is going away takes no new request.
    const next = await request(gw.url, { path: '/c' });
    assert.equal(next.text, 'answered on connection 2, stream 3');
  } finally {
    await gw.close();
    await upstream.close();
  }
});
