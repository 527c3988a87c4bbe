/**
 * The HTTP/2 upstream's PING against the gateway's own lag: a connection whose stream went
 * unanswered past its response timeout is PINGed, and closed if no answer comes within that
 * timeout (h2-session.ts's stalled()). The upstream answers the PING at once, but the worker's
 * loop is held (a plugin that computes, a long collection, a CPU saturated by load) with the
 * answer unread in the socket: timers run before I/O, so the PING's deadline passed first and a
 * live connection was closed as dead. The loop is held for real (Atomics.wait on this process,
 * the gateway's); no timing is asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { FLAG, FRAME, frame, headerBlock } from '../../../proxy/accept/h2/h2-frames.ts';

test('a PING answered in time, unread while the loop is held past its deadline: the connection is kept', async () => {
  let holds = 0;
  const upstream = await scriptedH2Upstream(
    (socket, streamId) => {
      // The first stream hangs (its response timeout sends the PING); the next are answered.
      if (upstream.streams.length === 1) return;
      socket.write(
        frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, streamId, headerBlock([[':status', '204']])),
      );
    },
    [],
    () => {
      // Its answer is in the gateway's socket: the loop is held 800 ms, past the PING's 300 ms.
      holds++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
    },
  );
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream:
        '    protocol: h2c\n    retries: { attempts: 1 }\n    timeouts: { response: 300ms, total: 10s }\n',
    }),
  );
  try {
    assert.equal((await request(gw.url, { path: '/hangs' })).status, 504);
    assert.equal(holds, 1);
    assert.equal((await request(gw.url, { path: '/next' })).status, 204);
    // Was: 2, the live connection closed as one that did not answer its PING.
    assert.equal(upstream.connections(), 1);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
