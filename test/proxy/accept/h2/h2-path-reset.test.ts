/**
 * A `:path` that is not the origin form, with `:scheme` http or https (RFC 9113 §8.3.1: empty,
 * relative, a bare query, `*` but for OPTIONS), never reaches the gateway's own check:
 * nghttp2 resets the stream PROTOCOL_ERROR first, unlogged, and the connection serves on, as
 * docs/http2-and-grpc.md says. Pinned so the docs follow if a Node upgrade changes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { settle } from '../downstream-fixture.ts';
import { ERROR, FRAME, headerBlock, headers, RawH2Client, requestFields } from './h2-frames.ts';

test('a :path that is empty, relative, a bare query, or * with GET: RST_STREAM PROTOCOL_ERROR from nghttp2, unlogged; the connection serves on', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    `name: edge-1\nroutes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
    {},
    'http2: true',
  );
  const client = await RawH2Client.connect(gw.port);
  try {
    const paths = ['', 'relative', '?q=1', '*'];
    for (const [i, path] of paths.entries())
      client.send(headers(2 * i + 1, headerBlock(requestFields(path))));
    for (const [i] of paths.entries()) {
      const reset = await client.waitFor((f) => f.streamId === 2 * i + 1);
      assert.equal(reset.type, FRAME.RST_STREAM, `stream of :path ${JSON.stringify(paths[i])}`);
      assert.equal(reset.payload.readUInt32BE(0), ERROR.PROTOCOL_ERROR);
    }
    client.send(headers(9, headerBlock(requestFields('/ok', 'GET', [['x-request-id', 'after-resets']]))));
    const answer = await client.waitFor((f) => f.streamId === 9);
    assert.equal(answer.type, FRAME.HEADERS);
    await gw.logFor('after-resets');
    await settle();
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'request').map((l) => l.path),
      ['/ok'],
      'only the request that was served is logged',
    );
    assert.deepEqual(
      echo.received.map((r) => r.path),
      ['/ok'],
    );
  } finally {
    client.close();
    await gw.close();
    await echo.close();
  }
});
