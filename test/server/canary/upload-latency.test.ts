/**
 * A canary's latency is its upstream's, not its clients' pace: on a route whose bodies stream
 * (`request_buffering: false`), a body a client uploads slowly is counted from the moment it had
 * all gone out. Here the users a `hash_key` pins to the canary upload slowly and the others at
 * once; both versions answer as soon as they have read the body, alike. Counted from the
 * attempt's start, the canary looked slower by the clients' pauses and was rolled back.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { keyPoint } from '../../../src/proxy/select/split.ts';
import { rawUpload } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';

/** A version that answers its name once it has read the whole body. */
const readsThenAnswers =
  (name: string): http.RequestListener =>
  (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': String(name.length) }).end(name));
  };

/** A user the hash places on the canary (the first side, at 50 %), or on the baseline. */
function userOn(canary: boolean, from: number): string {
  for (let n = from; ; n++) if (keyPoint(`user-${n}`) < 0.5 === canary) return `user-${n}`;
}

test("a canary is judged on its upstream's time, not on the pace of the clients uploading to it", async () => {
  const stable = await listenOnLoopback(readsThenAnswers('stable'));
  const next = await listenOnLoopback(readsThenAnswers('next'));
  const gw = await startGatewayFromText(`name: upload-edge
listen:
  - address: 127.0.0.1:0
routes:
  - name: api
    match: { path: / }
    upstream: stable
    request_buffering: false
    hash_key: header:x-user
    canary: { upstream: next, steps: [50], step_interval: 1s, min_requests: 30, compare: [latency] }
upstreams:
  stable:
    targets: [{ url: ${stable.url} }]
  next:
    targets: [{ url: ${next.url} }]
`);
  const upload = (user: string, slow: boolean) =>
    rawUpload(
      gw.port,
      // Chunked: a body of announced length is read whole first (retries.replay_body), this one streams.
      `POST / HTTP/1.1\r\nHost: x\r\nX-User: ${user}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      // The canary's users pause 150 ms mid-body: far past latency_margin (20 ms).
      slow
        ? { first: '2\r\nab\r\n', drip: { piece: '2\r\ncd\r\n0\r\n\r\n', everyMs: 150, pieces: 1 } }
        : { first: '4\r\nabcd\r\n0\r\n\r\n' },
    ).closed;
  const over = () =>
    gw.logs.find((l) => l.msg === 'canary action' && (l.action === 'promote' || l.action === 'rollback'));
  try {
    const answered: Record<string, number> = {};
    // Bounded in batches, not in time: each batch is 10 slow uploads to the canary, 10 quick ones.
    for (let batch = 0; batch < 200 && over() === undefined; batch++) {
      const users = Array.from({ length: 10 }, (_, i) => [
        userOn(true, 1000 * i + batch),
        userOn(false, 1000 * i + batch),
      ]);
      const answers = await Promise.all(users.flatMap(([c, b]) => [upload(c, true), upload(b, false)]));
      for (const answer of answers) {
        const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
        answered[body] = (answered[body] ?? 0) + 1;
      }
    }
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'canary worse'),
      [],
      'the clients uploading slowly did not make the canary look slow',
    );
    assert.equal(over()?.action, 'promote');
    assert.ok((answered.next ?? 0) > 30, JSON.stringify(answered));
    const [status] = gw.gateway.canaries();
    assert.equal(status.phase, 'promoted');
  } finally {
    await gw.close();
    await stable.close();
    await next.close();
  }
});
