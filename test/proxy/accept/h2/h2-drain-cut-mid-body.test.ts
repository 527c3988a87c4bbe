/**
 * The drain's deadline (as a second signal, or a removed listener's deadline) cuts an HTTP/2
 * response mid-body, an event stream say: each open stream is reset INTERNAL_ERROR before its
 * connection goes. Destroyed in the same turn as its streams, the session sent its GOAWAY
 * NO_ERROR and closed with the last reset still queued (nghttp2 sends none once it closes): the
 * client saw a connection that ended cleanly with its last stream never reset, and node:http2's
 * client ended that stream's body as if whole (an NDJSON feed or a download cut at the
 * deadline read as complete).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { closeAll } from '../../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import { ERROR, FLAG, FRAME, headerBlock, headers, RawH2Client, requestFields } from './h2-frames.ts';

test("the drain's deadline resets each HTTP/2 stream it cuts mid-body INTERNAL_ERROR, not a clean close", async () => {
  // An event stream: its head and a first event, then nothing until the gateway goes.
  const events = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: 1\n\n');
  });
  await new Promise<void>((resolve) => events.listen(0, '127.0.0.1', resolve));
  const { port } = events.address() as { port: number };
  let gw: TestGateway | undefined;
  let client: RawH2Client | undefined;
  try {
    gw = await startTestGateway(
      `routes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "http://127.0.0.1:${port}" }] } }\ndrain: { delay: 0s, timeout: 300ms }\n`,
      {},
      'http2: true',
    );
    const raw = await RawH2Client.connect(gw.port);
    client = raw;
    client.send(headers(1, headerBlock(requestFields('/events-1'))));
    client.send(headers(3, headerBlock(requestFields('/events-3'))));
    for (const id of [1, 3]) await client.waitFor((f) => f.type === FRAME.DATA && f.streamId === id);
    await gw.gateway.drain();
    await client.untilClosed();
    for (const id of [1, 3]) {
      const frames = raw.frames.filter((f) => f.streamId === id);
      assert.equal(
        frames.some((f) => (f.flags & FLAG.END_STREAM) !== 0),
        false,
        `stream ${id}: never ended as whole`,
      );
      const reset = frames.find((f) => f.type === FRAME.RST_STREAM);
      assert.equal(
        reset?.payload.readUInt32BE(0),
        ERROR.INTERNAL_ERROR,
        `stream ${id}: reset INTERNAL_ERROR`,
      );
    }
    const logs = gw.logs;
    await waitUntil('both logged', () => logs.filter((l) => l.msg === 'request').length === 2);
    for (const line of logs.filter((l) => l.msg === 'request')) {
      assert.equal(line.status, 200);
      assert.equal(line.error, 'proxy_internal_response');
      assert.equal(
        line.details,
        'the gateway was shutting down and its drain deadline passed: it closed the connection',
      );
    }
  } finally {
    client?.close();
    await closeAll(gw, events);
    events.closeAllConnections();
  }
});
