/**
 * An HTTP/2 upstream that ends its sessions gracefully after serving some streams: a GOAWAY
 * NO_ERROR whose last stream id is the last one it served, as nginx does at `keepalive_requests`
 * (every 100 streams by default) and grpc-go at `MaxConnectionAge`. A stream the gateway sent
 * meanwhile, above that id, was never processed (RFC 9113 §6.8): HTTP/2's keep-alive race. It is
 * retried whatever its method, uncharged to the retry budget, and judges no target, as the
 * HTTP/1.1 keep-alive race is; behind nginx with `keepalive_requests 100` under 200 concurrent
 * clients, 17% of the requests were a 502 (the budget refused their retries) and the one target
 * was ejected again and again. A GOAWAY before any stream (last stream id 0) is a refusal, still
 * charged to the budget (test/resilience/h2-refusal-storm.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { FRAME, frame, headerBlock, headers } from '../../../proxy/accept/h2/h2-frames.ts';

const NO_ERROR = 0;

function goaway(lastStreamId: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(NO_ERROR, 4);
  return frame(FRAME.GOAWAY, 0, 0, payload);
}

const ok = headerBlock([
  [':status', '200'],
  ['content-length', '0'],
]);

/** No charged retry may go (the budget is empty) and one judged failure ejects the target. */
const config = (url: string) => `name: edge-1
routes:
  - { match: { path: / }, upstream: app }
upstreams:
  app:
    protocol: h2c
    targets: [{ url: "${url}" }]
    retries: { attempts: 2, budget: { ratio: 0, min_concurrent: 0, min_per_second: 0 } }
    outlier_detection: { consecutive_failures: 1 }
`;

test('a POST above the last stream of a graceful GOAWAY that ended a session after its streams: retried on a new session, uncharged, no target judged', async () => {
  // Each connection serves its first stream, then ends gracefully at its second, unprocessed.
  const upstream = await scriptedH2Upstream((socket, streamId) =>
    socket.write(streamId === 1 ? headers(1, ok) : goaway(1)),
  );
  const gw = await startTestGateway(config(upstream.url));
  try {
    const first = await request(gw.url, {
      method: 'POST',
      body: 'a=1',
      headers: { 'x-request-id': 'first' },
    });
    assert.equal(first.status, 200);
    const second = await request(gw.url, {
      method: 'POST',
      body: 'a=2',
      headers: { 'x-request-id': 'second' },
    });
    assert.equal(second.status, 200);
    const line = await gw.logFor('second');
    assert.equal(line.attempts, 2);
    assert.deepEqual(
      (line.tries as { error?: string; status?: number }[]).map((t) => t.error ?? t.status),
      ['connection_terminated', 200],
    );
    assert.equal(line.retry_skipped, undefined);
    assert.deepEqual(upstream.streams, [1, 3, 1]);
    assert.equal(upstream.connections(), 2);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected'),
      [],
      'a graceful end of a session is no fault of the target',
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a GOAWAY before any stream (last stream id 0) is a refusal: its retry is charged to the budget', async () => {
  const upstream = await scriptedH2Upstream((socket) => socket.write(goaway(0)));
  const gw = await startTestGateway(config(upstream.url));
  try {
    const res = await request(gw.url, {
      method: 'POST',
      body: 'a=1',
      headers: { 'x-request-id': 'refused' },
    });
    assert.equal(res.status, 502);
    const line = await gw.logFor('refused');
    assert.equal(line.error, 'connection_terminated');
    assert.equal(line.retry_skipped, 'budget');
    assert.equal(line.attempts, 1);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
