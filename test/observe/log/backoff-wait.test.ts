/**
 * A retry's backoff is a wait of its own, named in the line (`backoff_ms`) as a full pool's queue
 * (`queued_ms`) and a hold (`held_ms`) are: without it the time between two attempts (`tries`'
 * `ms` added fall short of `total_ms`) read as time nobody spent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A gateway whose one upstream refuses every connection, retried as `retries` says. */
function refusedWith(url: string, retries: string) {
  return startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
    retries: ${retries}
`);
}

test('the backoff between two attempts is in the line, beside the attempts it separates', async () => {
  const refusing = await startRefusing();
  const gw = await refusedWith(refusing.url, '{ attempts: 3, backoff: { base: 40ms, max: 40ms } }');
  try {
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 502);
    const line = await gw.accessLine(1);
    assert.deepEqual([line.error, line.attempts, line.retry_skipped], ['connection_refused', 3, 'attempts']);
    const tries = line.tries as { ms: number }[];
    assert.equal(tries.length, 3);
    const backoff = line.backoff_ms as number;
    assert.equal(typeof backoff, 'number', JSON.stringify(line));
    assert.ok(backoff > 0);
    // The attempts and the two waits between them fit in the request's time (each value rounded to 0.01 ms).
    const spent = tries.reduce((sum, t) => sum + t.ms, 0) + backoff;
    assert.ok(spent <= (line.total_ms as number) + 0.05, JSON.stringify(line));
  } finally {
    await gw.close();
    await refusing.close();
  }
});

test('a request that was not retried has no backoff_ms', async () => {
  const refusing = await startRefusing();
  const gw = await refusedWith(refusing.url, '{ attempts: 1 }');
  try {
    assert.equal((await request(gw.url, { path: '/x' })).status, 502);
    const line = await gw.accessLine(1);
    assert.deepEqual([line.attempts, line.backoff_ms], [1, undefined]);
  } finally {
    await gw.close();
    await refusing.close();
  }
});
