/**
 * A burst on a cold HTTP/2 pool: one session is dialled for every request waiting (h2-pool.ts
 * openMore), and each rides it once it opens. Each of them waited through that connect, as the
 * one that dialled it did: the line's `connect_ms` ("time to open the upstream connection …; 0
 * when a pooled connection was reused"; for one handed a connection another began opening, "the
 * part of the connect it waited through") is not 0, and `reused` ("a pooled keep-alive
 * connection that had carried a request before") is false. They read `connect_ms: 0`,
 * `reused: true`: the connect the burst waited for was in its `ttfb_ms` and named nowhere.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import {
  FLAG,
  FRAME,
  headerBlock,
  headers,
  RawH2Client,
  requestFields,
} from '../../../proxy/accept/h2/h2-frames.ts';

const keep = closeAfterAll();

test('three streams sent at once to a cold h2c pool: each waited for its one connect, none reused', async () => {
  const upstream = http2.createServer();
  upstream.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  await keep({ close: () => new Promise<void>((resolve) => upstream.close(() => resolve())) });
  const { port } = upstream.address() as AddressInfo;
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${port}" }]
    protocol: h2c
`,
      {},
      'http2: true',
    ),
  );
  const client = await RawH2Client.connect(gw.port);
  try {
    // The three HEADERS in one write: the gateway reads them in one go, before the upstream's connect ends.
    client.send(
      Buffer.concat(
        [1, 3, 5].map((id) =>
          headers(id, headerBlock(requestFields(`/burst/${id}`, 'GET')), { endStream: true }),
        ),
      ),
    );
    for (const id of [1, 3, 5])
      await client.waitFor(
        (f) => f.streamId === id && f.type === FRAME.DATA && (f.flags & FLAG.END_STREAM) !== 0,
      );
  } finally {
    client.close();
  }
  const lines = [await gw.accessLine(1), await gw.accessLine(2), await gw.accessLine(3)];
  for (const line of lines) {
    assert.equal(line.status, 200, JSON.stringify(line));
    assert.equal(line.reused, false, JSON.stringify(line));
    assert.ok((line.connect_ms as number) > 0, JSON.stringify(line));
    // Within its wait for the head, as the doc says: never more than its own wait.
    assert.ok((line.connect_ms as number) <= (line.ttfb_ms as number), JSON.stringify(line));
  }
});
