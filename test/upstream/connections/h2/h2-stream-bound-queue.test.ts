/**
 * An HTTP/2 upstream that takes fewer streams at once than the gateway would send
 * (SETTINGS_MAX_CONCURRENT_STREAMS 1, or 0: RFC 9113 §6.5.2 makes neither special), under load: a
 * second connection opens, up to `pool.max_connections`, and the requests beyond every stream
 * those may carry wait in the target's queue, bounded by `pool.queue_timeout` and answered 503
 * `connection_limit_reached` with Retry-After, never sent (docs/configuration.md: "never a hang
 * that becomes a 504"). The requests of a burst on a cold pool joined the queue while the
 * connections were still opening, before the pool was known full: they are bounded the same.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type ClientResponse, request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import { FLAG, FRAME, frame, headerBlock, SETTING } from '../../../proxy/accept/h2/h2-frames.ts';

const keep = closeAfterAll();

/** An upstream that holds each stream until `release()`, then answers it 200 "ok". */
async function heldUpstream(maxStreams: number) {
  const held: [Socket, number][] = [];
  let released = false;
  const answer = (socket: Socket, stream: number) => {
    const head = headerBlock([
      [':status', '200'],
      ['content-length', '2'],
    ]);
    socket.write(
      Buffer.concat([
        frame(FRAME.HEADERS, FLAG.END_HEADERS, stream, head),
        frame(FRAME.DATA, FLAG.END_STREAM, stream, Buffer.from('ok')),
      ]),
    );
  };
  const upstream = await keep(
    scriptedH2Upstream(
      (socket, stream) => (released ? answer(socket, stream) : held.push([socket, stream])),
      [[SETTING.MAX_CONCURRENT_STREAMS, maxStreams]],
    ),
  );
  const release = () => {
    released = true;
    for (const [socket, stream] of held.splice(0)) answer(socket, stream);
  };
  return { upstream, release };
}

const POOL = '    pool: { max_connections: 2, queue_timeout: 300ms }\n';
const TIMEOUTS = '    timeouts: { connect: 1s, response: 8s, total: 8s }\n';

for (const maxStreams of [1, 0]) {
  test(`SETTINGS_MAX_CONCURRENT_STREAMS ${maxStreams}, a burst of 5 on a cold pool: two connections, one stream each, and the rest 503 connection_limit_reached at the queue wait, never sent, never a 504`, async () => {
    const { upstream, release } = await heldUpstream(maxStreams);
    const gw = await keep(
      startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets:
      - url: ${upstream.url}
${POOL}${TIMEOUTS}`),
    );
    const settled: ClientResponse[] = [];
    const asked = Array.from({ length: 5 }, (_, i) =>
      request(gw.url, { path: `/r${i}`, headers: { 'x-request-id': `r${i}` } }).then((res) => {
        settled.push(res);
        return res;
      }),
    );
    // The three past both connections' one stream each are answered by the gateway alone, while
    // the upstream still holds the two it took.
    await waitUntil('three answered', () => settled.length === 3);
    release();
    const all = await Promise.all(asked);
    const refused = all.filter((res) => res.status !== 200);
    assert.equal(refused.length, 3);
    for (const res of refused) {
      assert.equal(res.status, 503, String(res.headers['proxy-status']));
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(
        res.headers['proxy-status'],
        'edge-1; error=connection_limit_reached; details="no connection to \\"app\\" freed up within 300 ms"; next-hop="app"',
      );
      const line = await gw.logFor(String(res.headers['x-request-id']));
      assert.equal(line.error, 'connection_limit_reached');
      assert.equal(line.stage, 'not_sent');
    }
    assert.deepEqual(
      all.filter((res) => res.status === 200).map((res) => res.text),
      ['ok', 'ok'],
    );
    assert.equal(upstream.connections(), 2, 'a second connection, and no more');
    assert.equal(upstream.streams.length, 2, 'nothing past the streams the upstream takes was sent');
  });
}

test('a gRPC call queued behind an upstream at its SETTINGS_MAX_CONCURRENT_STREAMS: UNAVAILABLE naming connection_limit_reached, never DEADLINE_EXCEEDED', async () => {
  const { upstream, release } = await heldUpstream(1);
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets:
      - url: ${upstream.url}
    pool: { max_connections: 1, queue_timeout: 300ms }
${TIMEOUTS}`,
      {},
      'http2: true',
    ),
  );
  const client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  const call = (): Promise<grpc.ServiceError | null> =>
    new Promise((resolve) =>
      client.makeUnaryRequest(
        '/pkg.Svc/Call',
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.from('x'),
        { deadline: Date.now() + 15_000 },
        (err) => resolve(err),
      ),
    );
  // The first call takes the connection's one stream; the second, sent once the first is out,
  // waits behind it.
  const first = call();
  await waitUntil('the first call upstream', () => upstream.streams.length === 1);
  const second = await call();
  release();
  await first;
  client.close();
  assert.equal(second?.code, grpc.status.UNAVAILABLE);
  assert.match(
    String(second?.details),
    /^connection_limit_reached: no connection to "app" freed up within 300 ms/,
  );
  assert.equal(upstream.streams.length, 1);
});
