/**
 * Request bodies read whole (routes[].request_buffering) are held until their exchange ends: a
 * hundred uploads at once to an upstream that answers none of them before it has them all held a
 * MiB each, bounded by nothing but max_connections × limits.buffer (10 GiB by default). They count
 * against `limits.buffer_total` with the responses held for slow readers: past it a body streams
 * as a longer one does, and every upload is still answered whole.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const UPLOADS = 100;
const KiB = 1024;
const BODY = 256 * KiB;

test(`${UPLOADS} chunked uploads of 256 KiB held at once under buffer_total 4MiB: at most 4 MiB of them read whole, the rest streamed, each answered with all its bytes`, async (t) => {
  const framing: string[] = [];
  const waiting: (() => void)[] = [];
  // Answers none before it has every body whole: whatever the gateway read whole, it still holds.
  const upstream = await listenOnLoopback((req, res) => {
    framing.push(req.headers['content-length'] === undefined ? 'chunked' : 'whole');
    let got = 0;
    req.on('data', (chunk: Buffer) => {
      got += chunk.length;
    });
    req.on('end', () => {
      waiting.push(() => res.end(String(got)));
      if (waiting.length === UPLOADS) for (const answer of waiting) answer();
    });
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
limits: { buffer_total: 4MiB }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`);
  t.after(() => gw.close());
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  t.after(() => agent.destroy());
  const piece = Buffer.alloc(64 * KiB, 'u');
  const answers = await Promise.all(
    Array.from(
      { length: UPLOADS },
      () =>
        new Promise<string>((resolve, reject) => {
          const req = http.request(new URL('/upload', gw.url), { method: 'POST', agent }, (res) => {
            let text = '';
            res.on('data', (c) => {
              text += c;
            });
            res.on('end', () => resolve(`${res.statusCode} ${text}`));
          });
          req.on('error', reject);
          for (let sent = 0; sent < BODY; sent += piece.length) req.write(piece);
          req.end();
        }),
    ),
  );
  assert.deepEqual(new Set(answers), new Set([`200 ${BODY}`]));
  const whole = framing.filter((f) => f === 'whole').length;
  // 4 MiB of 256 KiB bodies is 16; one more may be under way when the total is reached.
  assert.ok(whole >= 1 && whole <= 17, `${whole} of ${UPLOADS} bodies read whole and held at once`);
  assert.equal(framing.length, UPLOADS);
  // Each exchange over gave back what its body held.
  await waitUntil('nothing held', () => gw.gateway.runtime().readerMemory.buffered === 0);
});
