/**
 * An answer the gateway made on its own, without attempting the upstream (RFC 9209's
 * `proxy_internal_response`: the only-if-cached 504 of a cache miss), says nothing of the
 * upstream's health. candor/client counted each such 504 as a failure of the upstream the
 * answer names in `next-hop`: a client probing the cache with only-if-cached opened that
 * upstream's circuit by its misses alone, and its next plain call failed fast with
 * `circuit_open` without being sent, though the upstream was healthy; and read the 504 as
 * `proxy_internal_response`'s own row (the 503 of maintenance, which a client may retry), so it
 * asked again for what the cache had just said it did not hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttemptReport, createFetch } from '../../../src/kits/client/index.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test("only-if-cached misses (the gateway's own 504, the upstream not contacted) do not open the upstream's circuit", async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'no-store'],
    body: 'fresh',
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`);
  const client = createFetch({ attempts: 1, circuitBreaker: { failures: 2, openTime: 60_000 } });
  try {
    for (let i = 0; i < 3; i++) {
      const miss = await client(`${gw.url}/pages/p${i}`, { headers: { 'cache-control': 'only-if-cached' } });
      assert.equal(miss.status, 504);
      assert.match(
        String(miss.headers.get('proxy-status')),
        /error=proxy_internal_response; .*next-hop="app"/,
      );
      await miss.arrayBuffer();
    }
    const plain = await client(`${gw.url}/pages/p0`);
    assert.equal(plain.status, 200);
    assert.equal(await plain.text(), 'fresh');
    // Read as the taxonomy's only_if_cached (not the 503 row of proxy_internal_response, which a
    // client may retry): a miss is not asked again.
    const reports: AttemptReport[] = [];
    const retrying = createFetch({ attempts: 3, onAttemptFailed: (report) => reports.push(report) });
    const miss = await retrying(`${gw.url}/pages/p9`, { headers: { 'cache-control': 'only-if-cached' } });
    assert.equal(miss.status, 504);
    await miss.arrayBuffer();
    assert.deepEqual(
      reports.map((r) => [r.type, r.retry, r.reason]),
      [['only_if_cached', false, 'not_retryable']],
    );
  } finally {
    await gw.close();
    await origin.stop();
  }
});
