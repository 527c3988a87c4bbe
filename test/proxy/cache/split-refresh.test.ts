/**
 * stale-while-revalidate on a split route without `hash_key`: a stored answer is kept per side
 * (the side is in its key), and its background refresh goes to that side, not to a side drawn
 * again at random, which would refresh the other side's answer and leave this one stale.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("a stale answer's refresh on a split route goes to the side whose answer it refreshes", async () => {
  // Stale at once, and within stale-while-revalidate: every hit is given stale and refreshed.
  const fields = ['Cache-Control', 'max-age=0, stale-while-revalidate=600'];
  const blue = await startMoodyOrigin({ status: 200, fields, body: 'blue' });
  const green = await startMoodyOrigin({ status: 200, fields, body: 'green' });
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    cache: {}
    split:
      - { upstream: blue, weight: 50 }
      - { upstream: green, weight: 50 }
upstreams:
  blue:
    targets:
      - url: ${blue.url}
  green:
    targets:
      - url: ${green.url}
`);
  // Which origin a request carrying this probe reached (the refresh carries the client's fields).
  const reached = (probe: string) =>
    [blue, green].find((origin) => origin.heads.some((head) => head.includes(`x-probe: ${probe}\r`)));
  try {
    let refreshed = 0;
    for (let n = 0; n < 60 && refreshed < 8; n++) {
      const probe = `p${n}`;
      const res = await request(gw.url, { path: '/pages/home', headers: { 'x-probe': probe } });
      assert.equal(res.status, 200);
      if (!/; hit; fwd=stale;/.test(String(res.headers['cache-status']))) continue;
      // Given the blue (or green) side's stored answer: its refresh must reach that side's origin.
      await waitUntil(`the refresh of ${probe}`, () => reached(probe) !== undefined);
      assert.equal(reached(probe), res.text === 'blue' ? blue : green, `the refresh of ${res.text}'s answer`);
      refreshed++;
    }
    assert.equal(refreshed, 8);
  } finally {
    await gw.close();
    await blue.stop();
    await green.stop();
  }
});
