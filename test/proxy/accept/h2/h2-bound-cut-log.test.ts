/**
 * A stream open on a connection the gateway closes because its client passed an HTTP/2 bound
 * (a PING flood, past 100 invalid frames): the request's log line says the gateway closed the
 * connection for that bound, never "client closed the connection" (its client did not).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startBlackhole } from '../../../../src/kits/fault-kit/slow-faults.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import { FRAME, frame, headerBlock, headers, ping, RawH2Client, requestFields } from './h2-frames.ts';

const keep = closeAfterAll();

async function gatewayToASilentUpstream() {
  const upstream = await keep(startBlackhole());
  const gw = await keep(startTestGateway(singleUpstream(upstream.url), {}, 'http2: true'));
  return { gw, upstream };
}

function requestLines(gw: { logs: Record<string, unknown>[] }) {
  return gw.logs.filter((line) => line.msg === 'request');
}

test('a PING flood while a request waits: its line names the ping_flood bound, not the client closing', async () => {
  const { gw, upstream } = await gatewayToASilentUpstream();
  const client = await RawH2Client.connect(gw.port);
  after(() => client.close());
  client.send(headers(1, headerBlock(requestFields('/wait'))));
  await upstream.waitForRequest(1);
  client.send(Buffer.concat(Array.from({ length: 150 }, () => ping())));
  await client.untilClosed();
  await waitUntil('the request logged', () => requestLines(gw).length === 1);
  const [line] = requestLines(gw);
  assert.equal(line.path, '/wait');
  assert.equal(line.error, 'client_closed');
  assert.equal(
    line.details,
    'the gateway closed the connection: its client passed an HTTP/2 bound (ping_flood: more than 100 PING frames in 10000 ms)',
  );
});

test('past 100 invalid frames (an upload of empty DATA frames) while a request waits: both lines name the invalid_frames bound', async () => {
  const { gw, upstream } = await gatewayToASilentUpstream();
  const client = await RawH2Client.connect(gw.port);
  after(() => client.close());
  client.send(headers(1, headerBlock(requestFields('/wait'))));
  await upstream.waitForRequest(1);
  // A POST whose body is empty DATA frames: each an invalid frame to nghttp2 (CVE-2019-9518).
  client.send(headers(3, headerBlock(requestFields('/up', 'POST')), { endStream: false }));
  client.send(Buffer.concat(Array.from({ length: 150 }, () => frame(FRAME.DATA, 0, 3))));
  await client.untilClosed();
  await waitUntil('both requests logged', () => requestLines(gw).length === 2);
  const bound =
    'the gateway closed the connection: its client passed an HTTP/2 bound (invalid_frames: more than 100 invalid frames (malformed requests, empty DATA frames))';
  const uploading = requestLines(gw).find((line) => line.path === '/up');
  assert.equal(uploading?.error, 'client_closed');
  assert.equal(uploading?.details, `${bound} while sending the body`);
  const waiting = requestLines(gw).find((line) => line.path === '/wait');
  assert.equal(waiting?.error, 'client_closed');
  assert.equal(waiting?.details, bound);
});
