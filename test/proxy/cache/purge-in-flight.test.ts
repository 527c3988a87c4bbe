/**
 * A purge that comes while an answer is being fetched: that answer, of a request made before the
 * purge, is not stored (it may be the very page the purge was for: fixed upstream, its old copy
 * would be served on for its max-age). A purge of other keys leaves it to be stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

for (const [what, key, next] of [
  ['the whole route', undefined, 'edge-1; fwd=uri-miss'],
  ["the page's own prefix", '/pages/a', 'edge-1; fwd=uri-miss'],
  ['another prefix', '/pages/b', 'edge-1; hit'],
] as const) {
  test(`a purge of ${what} while the page is fetched: the next request is ${next}`, async (t) => {
    const answers: (() => void)[] = [];
    const up = await listenOnLoopback((_req, res) => {
      answers.push(() => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('the page as it was');
      });
    });
    t.after(() => up.close());
    const gw = await startTestGateway(cachedPages(up.url));
    t.after(() => gw.close());
    const first = request(gw.url, { path: '/pages/a' });
    await waitUntil('the fetch reaches the upstream', () => answers.length === 1);
    await gw.gateway.purge({ route: 'pages', key });
    answers[0]();
    assert.equal((await first).text, 'the page as it was');
    let answered = false;
    const again = request(gw.url, { path: '/pages/a' }).finally(() => {
      answered = true;
    });
    // A hit is answered at once; a miss reaches the upstream, which answers it then.
    await waitUntil('the next request answered or forwarded', () => answered || answers.length === 2);
    answers[1]?.();
    assert.match(String((await again).headers['cache-status']), new RegExp(`^${next}`));
  });
}
