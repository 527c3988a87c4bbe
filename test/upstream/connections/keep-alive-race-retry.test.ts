/**
 * A retry after the keep-alive race goes on a new connection: the pooled connections beside the
 * one that died were parked as it was, and may be as stale. Taken from the pool, the retry met
 * the next stale one and the client got the 502 the retry was for. Real gateway, a raw TCP
 * upstream that drops the second request of every connection unanswered.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const OK = (text: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n\r\n${text}`;

test('two pooled connections gone stale: a GET raced on one is retried on a new connection, not the other; 200', async (t) => {
  const upstream = await scriptedUpstream((socket, req) => {
    if (req.onConnection === 1) setTimeout(() => socket.write(OK(`c${req.connection}`)), 50);
    else socket.end(); // the idle timeout fires as the request arrives
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  // Two requests at once: two connections, both parked.
  await Promise.all([request(gw.url, { path: '/a' }), request(gw.url, { path: '/b' })]);
  assert.equal(upstream.connections(), 2);
  const res = await request(gw.url, { path: '/c', headers: { 'x-request-id': 'c' } });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'c3');
  const line = await gw.logFor('c');
  assert.deepEqual(
    (line.tries as { error?: string; status?: number }[]).map((t) => t.error ?? t.status),
    ['connection_terminated', 200],
  );
  assert.equal(line.reused, false);
  assert.equal(upstream.connections(), 3);
});

test('max_connections 1, each connection dropping its second request: four queued GETs all 200, each retry on a connection of its own', async (t) => {
  const upstream = await scriptedUpstream((socket, req) => {
    if (req.onConnection === 1) setTimeout(() => socket.write(OK('ok')), 50);
    else socket.end();
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    pool: { max_connections: 1, queue_timeout: 5s }' }),
  );
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  const answers = await Promise.all(
    [0, 1, 2, 3].map((i) =>
      new Promise((resolve) => setTimeout(resolve, i * 10)).then(() => request(gw.url, { path: `/${i}` })),
    ),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 200],
  );
  // Every request that met a dropped connection went again on a new one, never on another reused.
  const retried = gw.logs.filter((l) => l.msg === 'request' && l.attempts === 2);
  assert.ok(retried.every((l) => l.reused === false));
  assert.equal(upstream.requests.filter((r) => r.onConnection > 2).length, 0);
});
