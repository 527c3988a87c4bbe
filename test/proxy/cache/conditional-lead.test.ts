/**
 * A client's conditional request (a browser revalidating its copy: If-None-Match) with nothing of
 * its variant stored goes upstream as it is, and its answer is likely a 304 for it alone, which
 * no other request can be given. It was the key's fetch all the same: the misses that came
 * meanwhile waited for it, found nothing stored, and each went upstream (a cold or purged key
 * under a mix of reloading and new visitors: 21 upstream requests for 21 requests). Now it fetches
 * for no one, and the first of the others fetches for the rest: one upstream request for them all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("a client's conditional miss is no fetch for the others: the misses that come meanwhile make one upstream request", async (t) => {
  const asked: string[] = [];
  // Every answer is held until the herd has come: the revalidation's 304, and a fetch's 200.
  const held: (() => void)[] = [];
  const up = await listenOnLoopback((req, res) => {
    const tag = req.headers['if-none-match'];
    asked.push(String(tag ?? 'none'));
    held.push(() => {
      res.writeHead(tag === '"v1"' ? 304 : 200, { etag: '"v1"', 'cache-control': 'max-age=600' });
      res.end(tag === '"v1"' ? undefined : 'page');
    });
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  const revalidating = request(gw.url, { path: '/pages/c', headers: { 'if-none-match': '"v1"' } });
  await waitUntil('the revalidation reaches the upstream', () => held.length === 1);
  const herd = Array.from({ length: 5 }, () => request(gw.url, { path: '/pages/c' }));
  // The herd reaches the gateway while the revalidation is still held.
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const answer of held.splice(0)) answer();
  // A fetch of the herd's own, if one came meanwhile (and each one's, if the herd went upstream).
  const rest = setInterval(() => {
    for (const answer of held.splice(0)) answer();
  }, 10);
  t.after(() => clearInterval(rest));
  const own = await revalidating;
  assert.equal(own.status, 304);
  assert.equal(own.headers['cache-status'], 'edge-1; fwd=uri-miss');
  const answers = await Promise.all(herd);
  for (const res of answers) assert.equal(res.text, 'page');
  const said = answers.map((res) => String(res.headers['cache-status']));
  assert.equal(said.filter((s) => s === 'edge-1; fwd=uri-miss').length, 1, said.join(' | '));
  assert.equal(
    said.filter((s) => /^edge-1; fwd=uri-miss; ttl=\d+; collapsed$/.test(s)).length,
    4,
    said.join(' | '),
  );
  assert.deepEqual(asked, ['"v1"', 'none']);
});
