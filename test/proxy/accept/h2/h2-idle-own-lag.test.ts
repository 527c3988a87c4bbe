/**
 * `limits.http2.idle_timeout` against the gateway's own lag: a request an idle HTTP/2 client
 * sent well within the timeout waits unread in the socket while the worker's loop is held (a
 * plugin that computes, a long collection, a CPU saturated by load). Timers run before I/O, so
 * the idle wait passed first and the connection was closed (GOAWAY) under a request sent in time.
 * The loop is held for real (Atomics.wait on this process, the gateway's); no timing is asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { FRAME, headerBlock, headers, RawH2Client, requestFields } from './h2-frames.ts';

test('h2c: a request sent in time, unread while the loop is held past the idle timeout: answered', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    singleUpstream(echo.url, { extra: 'limits: { header_timeout: 5s, http2: { idle_timeout: 300ms } }' }),
    {},
    'http2: true',
  );
  const client = await RawH2Client.connect(gw.port);
  try {
    // In a turn's check phase (after its poll, so that the next turn runs its timers first) the
    // request goes, then the loop is held 800 ms: the idle wait (300 ms) is due before the gateway
    // reads it.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        client.send(headers(1, headerBlock(requestFields('/held'))));
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
        resolve();
      }),
    );
    const first = await client.waitFor((f) => f.type === FRAME.GOAWAY || f.type === FRAME.HEADERS);
    // Was: GOAWAY, the request unanswered.
    assert.equal(first.type, FRAME.HEADERS);
    assert.equal(first.streamId, 1);
  } finally {
    client.close();
    await gw.close();
    await echo.close();
  }
});
