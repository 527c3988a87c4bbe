/**
 * A client's stream ids run out at 2^31 - 1 (RFC 9113 §5.1.1: "Stream identifiers cannot be
 * reused"; a client that can open no more must open a new connection). That is 2^30 requests on
 * one connection: a day and a half of a busy gRPC channel at 8,000 requests a second. node:http2
 * fails each later request on such a session (ERR_HTTP2_OUT_OF_STREAMS) and leaves the session
 * up, so the pool kept handing its "free" streams out: every request to the target a 502 blaming
 * the upstream ("Upstream closed the connection"), for as long as requests kept the connection
 * from idling. The session's next stream id is set near the end here (node:http2's own
 * setNextStreamID) rather than a billion requests made; the upstream is a real peer on a socket.
 */
import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { poolOf, startTestGateway } from '../../../helpers/test-gateway.ts';
import { FLAG, FRAME, frame, headerBlock } from '../../../proxy/accept/h2/h2-frames.ts';

test('an HTTP/2 connection whose stream ids ran out takes no more requests: the next ones go on a new connection, none a 502', async () => {
  const upstream = await scriptedH2Upstream((socket, id) =>
    socket.write(
      Buffer.concat([
        frame(FRAME.HEADERS, FLAG.END_HEADERS, id, headerBlock([[':status', '200']])),
        frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from(`stream ${id}`)),
      ]),
    ),
  );
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - { match: { path: / }, upstream: app }\nupstreams:\n  app:\n    protocol: h2c\n    targets: [{ url: "${upstream.url}" }]\n`,
  );
  try {
    assert.equal((await request(gw.url, { path: '/warm' })).status, 200);
    // setNextStreamID is node:http2's (Node 16+), missing from its types.
    type Session = ClientHttp2Session & { setNextStreamID(id: number): void };
    const pool = poolOf(gw) as unknown as { sessions: { session: Session }[] };
    assert.equal(pool.sessions.length, 1);
    // Two ids left: 2^31 - 3 and 2^31 - 1, the last a client may use.
    pool.sessions[0].session.setNextStreamID(2 ** 31 - 3);
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(gw.url, { path: `/r${i}`, headers: { 'x-request-id': `r${i}` } });
      const line = await gw.logFor(`r${i}`);
      assert.deepEqual(
        [res.status, line.error, line.attempts],
        [200, undefined, 1],
        `request ${i}: ${res.text}`,
      );
      answers.push(res.text);
    }
    assert.deepEqual(answers, ['stream 2147483645', 'stream 2147483647', 'stream 1', 'stream 3']);
    assert.equal(upstream.connections(), 2, 'one new connection, once the ids ran out');
  } finally {
    await gw.close();
    await upstream.close();
  }
});
