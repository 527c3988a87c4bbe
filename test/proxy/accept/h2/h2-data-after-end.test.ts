/**
 * A DATA frame on a stream the client already ended (RFC 9113 §5.1: half-closed (remote), a
 * STREAM_CLOSED error): nghttp2 closes the connection (GOAWAY STREAM_CLOSED), and the request
 * in flight on it gets its one log line, whose details name a breach of HTTP/2 without
 * claiming one the client did not make (they said DATA past a content-length, the one
 * example written in, whatever nghttp2 refused).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRawFault } from '../../../../src/kits/fault-kit/raw-server.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import {
  FLAG,
  FRAME,
  frame,
  goawayCode,
  headerBlock,
  headers,
  RawH2Client,
  requestFields,
} from './h2-frames.ts';

const STREAM_CLOSED = 0x5;

test('DATA after END_STREAM while the request is in flight: GOAWAY STREAM_CLOSED, one 499 line naming a breach, not DATA past a content-length', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
  });
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${upstream.url}\n`,
    {},
    'http2: true',
  );
  const client = await RawH2Client.connect(gw.port);
  try {
    const fields = requestFields('/up', 'POST', [
      ['content-length', '3'],
      ['x-request-id', 'after-end'],
    ]);
    client.send(headers(1, headerBlock(fields), { endStream: false }));
    client.send(frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('abc')));
    await waitUntil('the request upstream', () => upstream.received.length > 0);
    client.send(frame(FRAME.DATA, 0, 1, Buffer.from('xyz')));
    assert.equal(goawayCode(await client.goaway()), STREAM_CLOSED);
    await client.untilClosed();

    const line = await gw.logFor('after-end');
    assert.deepEqual([line.status, line.error, line.stage], [499, 'client_closed', 'sent']);
    assert.equal(
      line.details,
      "its connection broke HTTP/2 before its answer was whole (nghttp2: Protocol error; a frame HTTP/2 forbids, such as DATA past its stream's content-length (RFC 9113 §8.1.1) or after its END_STREAM (§5.1)): the connection was closed",
    );
    assert.equal(upstream.received.length, 1, 'the request went up once, whole');
    await waitUntil('the bound line', () => gw.logs.some((l) => l.msg === 'HTTP/2 bound passed'));
    const requests = gw.logs.filter((l) => l.msg === 'request');
    assert.equal(requests.length, 1, 'one access-log line');
  } finally {
    client.close();
    await gw.close();
    await upstream.close();
  }
});
