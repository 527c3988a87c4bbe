/**
 * `limits.header_timeout` on a plain listener with `http2`: the time a client has for its first
 * head (HTTP/1.1), or for its preface and SETTINGS (h2c), counts from the accept, the wait for
 * the bytes that tell the two apart included (docs/configuration.md, `limits.header_timeout` and
 * `listen[].http2`). Timed from the hand-over instead, a client that sent a `P` and then waited
 * had a second whole timeout: a slowloris held its connection twice as long.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import {
  ERROR,
  FRAME,
  goawayCode,
  headerBlock,
  headers,
  PREFACE,
  RawH2Client,
  requestFields,
  settings,
} from './h2-frames.ts';

const HEADER_TIMEOUT_MS = 600;
/** Each pause: under the timeout alone, over it with the other (600 ms from the accept). */
const PAUSE_MS = 400;

async function gatewayWithH2c() {
  const echo = await startEcho();
  const gw = await startTestGateway(
    singleUpstream(echo.url, { extra: `limits: { header_timeout: ${HEADER_TIMEOUT_MS}ms }` }),
    {},
    'http2: true',
  );
  return {
    gw,
    echo,
    close: async () => {
      await gw.close();
      await echo.close();
    },
  };
}

test('HTTP/1.1 on an h2c listener: a head begun with P (a preface, until its second byte) is cut at header_timeout from the accept', async () => {
  const { gw, echo, close } = await gatewayWithH2c();
  const socket = net.connect(gw.port, '127.0.0.1');
  let received = '';
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  try {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('P');
    await sleep(PAUSE_MS);
    socket.write('UT / HTTP/1.1\r\n');
    await sleep(PAUSE_MS);
    if (!socket.destroyed) socket.write('Host: a\r\nContent-Length: 0\r\n\r\n');
    await closed;
    assert.match(received, /^HTTP\/1\.1 408 /, `got ${JSON.stringify(received.slice(0, 200))}`);
    assert.match(received, /\r\nconnection: close\r\n/);
    assert.match(received, /its head not whole within 600 ms \(limits\.header_timeout\)/);
    assert.equal(echo.received.length, 0, 'nothing reached the upstream');
  } finally {
    socket.destroy();
    await close();
  }
});

test('h2c: the preface and SETTINGS together within header_timeout from the accept, not each within its own', async () => {
  const { gw, echo, close } = await gatewayWithH2c();
  const client = await RawH2Client.open(gw.port);
  try {
    client.send(PREFACE.subarray(0, PREFACE.length - 1));
    await sleep(PAUSE_MS);
    client.send(PREFACE.subarray(PREFACE.length - 1));
    await sleep(PAUSE_MS);
    client.send(Buffer.concat([settings(), headers(1, headerBlock(requestFields('/late')))]));
    // The first the gateway says to it: an answer (timed from the hand-over) or the GOAWAY.
    const first = await client.waitFor((f) => f.type === FRAME.GOAWAY || f.type === FRAME.HEADERS);
    assert.equal(goawayCode(first), ERROR.SETTINGS_TIMEOUT);
    await client.untilClosed();
    assert.equal(
      client.frames.some((f) => f.type === FRAME.HEADERS),
      false,
      'the late request was never answered',
    );
    assert.equal(echo.received.length, 0, 'nothing reached the upstream');
  } finally {
    client.close();
    await close();
  }
});
