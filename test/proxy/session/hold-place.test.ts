/**
 * A held request keeps its place in line while it tries again (docs/architecture.md, "Waiting
 * out a restart": "a request that finds no target again keeps its place and the time it has
 * left"): the first waiting request, woken to try the upstream again (every 250 ms, or by a
 * target coming back), is out of the line only for that try; a request arriving meanwhile to a
 * line at hold.max_requests must not take its place and have it answered 503 "hold.max_requests".
 * Real sockets: an upstream port that refuses throughout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClientResponse, request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('the first held request, trying again, keeps its place at hold.max_requests: later ones get the 503, it waits out hold.timeout', async (t) => {
  const port = await freePort();
  // Each try of the woken request is a round with a retry after a backoff of up to a second:
  // it is out of the line that long, while newcomers come.
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream:
        '    hold: { timeout: 5s, max_requests: 1 }\n    retries: { attempts: 2, backoff: { base: 1s, max: 1s } }\n',
    }),
  );
  t.after(() => edge.close());
  const queue = edge.gateway.runtime().upstreams.get('app')?.hold;
  const first = request(edge.url, {
    path: '/first',
    headers: { 'x-request-id': 'first' },
    timeoutMs: 10_000,
  });
  first.catch(() => {});
  await waitUntil('the first held', () => (queue?.size ?? 0) === 1);
  const later: Promise<ClientResponse>[] = [];
  for (let i = 0; i < 12; i++) {
    later.push(request(edge.url, { path: `/later-${i}`, timeoutMs: 10_000 }));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const answer = await first;
  assert.equal(answer.status, 503);
  assert.match(
    String(answer.headers['proxy-status']),
    /error=destination_unavailable; details="no target of \\"app\\" took the request within hold.timeout \(5000 ms\)/,
    'the first request waited out its hold.timeout in its place',
  );
  for (const each of await Promise.all(later)) {
    assert.equal(each.status, 503);
    assert.match(String(each.headers['proxy-status']), /hold.max_requests \(1\) wait for one already/);
  }
});
