/**
 * An HTTP/2 upstream shedding load: every stream refused (`REFUSED_STREAM`) or left unprocessed
 * by a `GOAWAY`. Such a request may be retried whatever its method (RFC 9113 §8.7), but each
 * retry is load on a server that said it has too much: the retry budget bounds them as it bounds
 * any other, so the upstream sees at most (1 + ratio) × the requests, plus `min_concurrent`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { h2Refuse, startH2, startH2GoawayFirst } from '../../src/kits/fault-kit/h2-faults.ts';
import { request } from '../helpers/http-client.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

const REQUESTS = 100;

for (const [name, start] of [
  ['every stream refused (REFUSED_STREAM)', () => startH2(h2Refuse)],
  ['every connection GOAWAY before its first stream', () => startH2GoawayFirst()],
] as const) {
  test(`${name}: the retries stay within the budget`, async () => {
    const targets: Fault[] = [await start(), await start()];
    const gw = await startTestGateway(`name: edge-1
routes: [{ upstream: app }]
upstreams:
  app:
    protocol: h2c
    targets: [{ url: "${targets[0].url}" }, { url: "${targets[1].url}" }]
    retries: { attempts: 3, budget: { ratio: 0.2, min_concurrent: 3, min_per_second: 0 } }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
`);
    try {
      const statuses: number[] = [];
      for (let sent = 0; sent < REQUESTS; sent += 10) {
        const answers = await Promise.all(
          Array.from({ length: 10 }, () => request(gw.url, { method: 'POST', body: 'order=7' })),
        );
        statuses.push(...answers.map((a) => a.status));
      }
      assert.deepEqual(new Set(statuses), new Set([502]));
      await gw.accessLine(REQUESTS);
      const lines = gw.logs.filter((l) => l.msg === 'request');
      const attempts = lines.reduce((sum, l) => sum + (l.attempts as number), 0);
      const bound = REQUESTS * 1.2 + 3;
      assert.ok(attempts <= bound, `${attempts} attempts for ${REQUESTS} requests (bound ${bound})`);
      assert.ok(attempts > REQUESTS, 'some were retried (the budget allows a share)');
      assert.ok(
        lines.some((l) => l.retry_skipped === 'budget'),
        'a retry the budget refused is logged as such',
      );
    } finally {
      await gw.close();
      await Promise.all(targets.map((t) => t.close()));
    }
  });
}
