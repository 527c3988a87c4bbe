/**
 * Every attempt is in the access line, always, and the line agrees with the metrics: the lone
 * attempt that got a target ejected (refused, then no target left for the retry) is the line's
 * own answer (502 connection_refused, `retry_skipped: no_target`: the retry was not made); it was
 * a 503 destination_unavailable beside a `tries` entry that explain took for a retried attempt.
 * A lone attempt whose failure is not the line's own (a refused one, then `hold.timeout` passed)
 * is listed in `tries`, which alone tells of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { candorReader } from '../../../src/kits/explain/readers/candor-reader.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { samples, sampleValue, scrape } from '../metrics/scrape.ts';

test('the attempt that caused an ejection is in the line, as the metrics count it', async () => {
  const refusing = await startRefusing();
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${refusing.url}
    retries: { attempts: 2 }
    outlier_detection: { consecutive_failures: 1 }
    # No panic over ejections: the retry finds no target, and is not made.
    panic_threshold: 0
`);
  try {
    const target = new URL(refusing.url).origin;
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 502);
    const line = await gw.accessLine(1);
    assert.deepEqual(
      [line.error, line.stage, line.target, line.retry_skipped, line.attempts, line.tries],
      ['connection_refused', 'not_sent', target, 'no_target', 1, undefined],
    );
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    assert.equal(
      sampleValue(all, 'candor_upstream_attempts_total', {
        upstream: 'app',
        target,
        outcome: 'connection_refused',
        reused_connection: 'false',
      }),
      line.attempts,
    );
    // explain reads the refused attempt as the request's own failure, not one the gateway retried.
    const read = candorReader.read(JSON.stringify(line));
    assert.equal(read?.kind === 'request' ? read.failure : undefined, 'connection_refused');
    assert.equal(read?.kind === 'request' ? read.retried : 'none', undefined);
  } finally {
    await gw.close();
    await refusing.close();
  }
});

test("a lone attempt whose failure is not the line's own is listed: refused, then hold.timeout passed with no target back", async () => {
  const refusing = await startRefusing();
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${refusing.url}
    retries: { attempts: 1 }
    # Shorter than the first in line's scouting (every 250 ms): one try, then the hold's 503.
    hold: { timeout: 100ms }
`);
  try {
    const target = new URL(refusing.url).origin;
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 503);
    const line = await gw.accessLine(1);
    assert.deepEqual(
      [
        line.error,
        line.attempts,
        (line.tries as Array<Record<string, unknown>>).map(({ ms, ...rest }) => rest),
      ],
      ['destination_unavailable', 1, [{ target, error: 'connection_refused', stage: 'not_sent' }]],
    );
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    assert.equal(
      sampleValue(all, 'candor_upstream_attempts_total', {
        upstream: 'app',
        target,
        outcome: 'connection_refused',
        reused_connection: 'false',
      }),
      1,
    );
    // explain counts the refused attempt under its own type, beside the line's 503.
    const read = candorReader.read(JSON.stringify(line));
    assert.equal(read?.kind === 'request' ? read.failure : undefined, 'destination_unavailable');
    assert.deepEqual(read?.kind === 'request' ? read.retried : undefined, ['connection_refused']);
  } finally {
    await gw.close();
    await refusing.close();
  }
});
