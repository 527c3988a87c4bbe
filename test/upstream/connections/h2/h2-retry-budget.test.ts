/**
 * The retry budget holds for an HTTP/2 upstream as for an HTTP/1.1 one: its session outlives
 * the streams it resets, so nearly every stream goes on a reused connection, and a reset there
 * is no keep-alive race (an uncharged retry, allowed back to a target already tried).
 */
import assert from 'node:assert/strict';
import { constants } from 'node:http2';
import { test } from 'node:test';
import { startH2 } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

test('50 concurrent GETs to h2c targets that reset every stream: retries stay within the budget, none goes back to a target tried', async () => {
  const reset = () => keep(startH2((stream) => stream.close(constants.NGHTTP2_INTERNAL_ERROR)));
  const [a, b] = [await reset(), await reset()];
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: ${a.url} }, { url: ${b.url} }]
    retries: { attempts: 3, budget: { ratio: 0.2, min_concurrent: 3, min_per_second: 0 } }
    circuit_breaker: { consecutive_failures: 0 }
    outlier_detection: { consecutive_failures: 0 }
`),
  );
  const total = 50;
  const answers = await Promise.all(
    Array.from({ length: total }, (_, i) =>
      request(gw.url, { path: `/r/${i}`, headers: { 'x-request-id': `r${i}` } }),
    ),
  );
  for (const res of answers) assert.equal(res.status, 502);
  const lines = await Promise.all(answers.map((_, i) => gw.logFor(`r${i}`)));
  const attempts = a.received.length + b.received.length;
  // What the budget allows: its saved-up min_concurrent, and ratio of each request (it was 150).
  assert.ok(attempts <= total + 3 + 0.2 * total, `${attempts} attempts for ${total} requests`);
  assert.equal(
    lines.reduce((sum, l) => sum + Number(l.attempts), 0),
    attempts,
  );
  assert.ok(
    lines.some((l) => l.retry_skipped === 'budget'),
    'some retries refused by the budget',
  );
  for (const line of lines) {
    assert.ok(Number(line.attempts) <= 2, 'never a third attempt on one of the two targets');
    assert.ok(
      line.retry_skipped === 'budget' || line.retry_skipped === 'no_target',
      String(line.retry_skipped),
    );
  }
});
