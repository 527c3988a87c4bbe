/**
 * The HTTP/2 preface's time (`limits.header_timeout`) against the gateway's own lag: a client's
 * SETTINGS and first request, sent well within the time, wait unread in the socket while the
 * worker's loop is held (a plugin that computes, a long collection, a CPU saturated by load).
 * Timers run before I/O, so the preface's wait passed first and the connection was closed GOAWAY
 * SETTINGS_TIMEOUT under a request sent in time. The loop is held for real (Atomics.wait on this
 * process, the gateway's); no timing is asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import {
  FLAG,
  FRAME,
  headerBlock,
  headers,
  PREFACE,
  RawH2Client,
  requestFields,
  settings,
} from './h2-frames.ts';

test('h2c: SETTINGS and a request sent in time, unread while the loop is held past header_timeout: answered', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    singleUpstream(echo.url, { extra: 'limits: { header_timeout: 300ms }' }),
    {},
    'http2: true',
  );
  const client = await RawH2Client.open(gw.port);
  try {
    // The preface's first part: the connection is HTTP/2 (the gateway's SETTINGS say so), its
    // wait for the client's SETTINGS armed.
    client.send(PREFACE);
    await client.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0);
    // The SETTINGS and a request go at once, then the loop is held 800 ms: the preface's wait
    // (300 ms from the accept) is due before the gateway reads them.
    client.send(Buffer.concat([settings(), headers(1, headerBlock(requestFields('/held')))]));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
    const first = await client.waitFor((f) => f.type === FRAME.GOAWAY || f.type === FRAME.HEADERS);
    // Was: GOAWAY SETTINGS_TIMEOUT, the request unanswered.
    assert.equal(first.type, FRAME.HEADERS);
    assert.equal(first.streamId, 1);
    assert.equal(echo.received.length, 1);
  } finally {
    client.close();
    await gw.close();
    await echo.close();
  }
});
