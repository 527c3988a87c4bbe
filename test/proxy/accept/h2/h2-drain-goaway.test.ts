/**
 * The drain's GOAWAY names the last stream taken, once (node:http2 has no shutdown notice, the
 * GOAWAY of 2^31 - 1 that still takes streams: any GOAWAY it sends stops nghttp2 taking more). A
 * stream the client sent after it is above that id: never processed, and its client may send it
 * again elsewhere (RFC 9113 §8.7). Held here so that docs/http2-and-grpc.md stays true.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DownstreamExchange } from '../../../../src/core/net/downstream.ts';
import { startH2Fixture } from './h2-fixture.ts';
import { ERROR, FRAME, goawayCode, headerBlock, headers, RawH2Client, requestFields } from './h2-frames.ts';

const ok = (exchange: DownstreamExchange): void => {
  exchange.answer.sendHead(200, 'OK', ['content-length', '2']);
  exchange.answer.write(Buffer.from('ok'));
  exchange.answer.end();
};

test('the drain: GOAWAY NO_ERROR names the last stream taken; a stream sent after it is not processed and is above that id', async () => {
  const fx = await startH2Fixture({ handle: ok });
  const client = await RawH2Client.connect(fx.port);
  try {
    client.send(headers(1, headerBlock(requestFields('/before'))));
    await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    fx.h2.closeWhenIdle();
    const goaway = await client.goaway();
    client.send(headers(3, headerBlock(requestFields('/after'))));
    await client.untilClosed();
    assert.equal(goawayCode(goaway), ERROR.NO_ERROR);
    for (const f of client.frames.filter((g) => g.type === FRAME.GOAWAY))
      assert.equal(f.payload.readUInt32BE(0) & 0x7fffffff, 1, 'every GOAWAY names stream 1');
    assert.deepEqual(
      fx.exchanges.map((e) => e.head.target),
      ['/before'],
    );
  } finally {
    client.close();
    await fx.close();
  }
});
