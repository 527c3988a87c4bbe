/**
 * The keep-alive race is no verdict on the target: a request that dies with a reused HTTP/1.1
 * connection before any answer (the upstream closed it idle as the request went out) is retried
 * elsewhere, and the target keeps its place in rotation. Counted as a failure, two such races
 * ejected a target that answers every request on a new connection. Real gateway, two raw TCP
 * upstreams.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const OK = (text: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n\r\n${text}`;

test('races on reused connections eject no target: the requests go to the other, and the racing target takes its share again', async (t) => {
  // `a` answers the first request of each connection and drops the second unanswered (a FIN, as
  // an idle timeout that fires as the request arrives); `b` answers everything.
  const a = await scriptedUpstream((socket, req) =>
    req.onConnection === 1 ? socket.write(OK('a')) : socket.end(),
  );
  const b = await scriptedUpstream((socket) => socket.write(OK('b')));
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
      - url: ${b.url}
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 30s }
`);
  t.after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });
  const round = () => Promise.all(Array.from({ length: 4 }, (_, i) => request(gw.url, { path: `/${i}` })));
  // Two connections to each target, kept in the pool.
  assert.deepEqual((await round()).map((r) => `${r.status} ${r.text}`).sort(), [
    '200 a',
    '200 a',
    '200 b',
    '200 b',
  ]);
  // `a`'s two requests meet its dropped connections and go to `b`: the clients see nothing.
  assert.deepEqual(
    (await round()).map((r) => r.status),
    [200, 200, 200, 200],
  );
  assert.equal(
    a.requests.filter((r) => r.onConnection === 2).length,
    2,
    'two requests raced on reused connections to a',
  );
  assert.deepEqual(
    gw.logs.filter((l) => l.msg === 'target ejected'),
    [],
    'a race says nothing of the target',
  );
  // `a` is still in rotation: new connections, answered.
  assert.deepEqual((await round()).map((r) => `${r.status} ${r.text}`).sort(), [
    '200 a',
    '200 a',
    '200 b',
    '200 b',
  ]);
});
