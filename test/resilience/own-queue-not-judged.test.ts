/**
 * The gateway's own pool queue is not the upstream's slowness. Under overload a request can wait
 * most of its total timeout in the pool's queue for a connection, be sent, and be cut by the total
 * deadline a moment later: the client's 504 (no head within the total timeout) is the truth, but
 * the upstream had only what the queue left of it. Judged against the target, a healthy one was
 * ejected (then every request was a 503 destination_unavailable: a storm the gateway made).
 *
 * Here the pool has one connection and the upstream answers the first request after 500 ms: the
 * second, sent once the first holds that connection, queues behind it, is sent when it answers,
 * and gets no answer: the 1 s total deadline cuts it when its upstream had had some 500 ms of its
 * 1 s response timeout (the 500 ms leave a loaded machine room to read the second request while
 * the first still holds the connection: with 200, it sometimes came after, was never queued). A request that was never queued and hangs past the total timeout still
 * counts against its target. (No timing is asserted: the margins are hundreds of ms.)
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';

/** Answers `/first-*` after 500 ms, telling `arrived` when each comes; never answers any other path. */
async function slowUpstream(): Promise<{
  url: string;
  arrived(path: string): Promise<void>;
  close(): Promise<void>;
}> {
  const waiting = new Map<string, () => void>();
  const came = new Set<string>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    came.add(path);
    waiting.get(path)?.();
    if (path.startsWith('/first-')) setTimeout(() => res.end('ok'), 500);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrived: (path) =>
      came.has(path) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(path, resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const judgedAtOnce = `    pool: { max_connections: 1, queue_timeout: 5s }
    timeouts: { response: 1s, total: 1s }
    outlier_detection: { consecutive_failures: 1 }
    circuit_breaker: { consecutive_failures: 1 }
    retries: { attempts: 1 }
`;

test("a request that spent its total timeout in the gateway's pool queue: 504, its target not judged; one that hung unqueued still is", async () => {
  const upstream = await slowUpstream();
  const gw = await startTestGateway(singleUpstream(upstream.url, { upstream: judgedAtOnce }));
  const judgements = () => gw.logs.filter((l) => l.msg === 'target ejected' || l.msg === 'circuit opened');
  try {
    for (let i = 0; i < 3; i++) {
      const first = request(gw.url, { path: `/first-${i}`, headers: { 'x-request-id': `first-${i}` } });
      await upstream.arrived(`/first-${i}`); // it holds the pool's one connection
      const queued = request(gw.url, { path: `/queued-${i}`, headers: { 'x-request-id': `queued-${i}` } });
      const [a, b] = await Promise.all([first, queued]);
      assert.equal(a.status, 200);
      // The truth for the client: no response head within the total timeout.
      assert.equal(b.status, 504);
      const line = await gw.logFor(`queued-${i}`);
      assert.equal(line.error, 'http_response_timeout');
      assert.equal(typeof line.queued_ms, 'number');
      // Was: the target ejected and the circuit opened at the first, then 503s for every request.
      assert.deepEqual(judgements(), [], `no judgement after pair ${i}`);
      assert.match(
        String(line.details),
        /^no response head within the total timeout of 1000 ms; it waited [0-9]+ ms in the gateway's pool queue, the upstream had [0-9]+ ms of it$/,
      );
    }
    assert.equal(
      (await request(gw.url, { path: '/first-after' })).status,
      200,
      'the target still in rotation',
    );

    // Not queued, the upstream had the whole total timeout: its 504 is the target's, as before.
    const hung = await request(gw.url, { path: '/hang', headers: { 'x-request-id': 'hang' } });
    assert.equal(hung.status, 504);
    const hangLine = await gw.logFor('hang');
    assert.equal(hangLine.error, 'http_response_timeout');
    assert.equal(hangLine.queued_ms, undefined);
    assert.doesNotMatch(String(hangLine.details), /queue/);
    assert.ok(
      judgements().some((l) => l.msg === 'target ejected'),
      'the hanging target is ejected',
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});
