/**
 * Every attempt is in the access line, always, and the line agrees with the metrics: the lone
 * attempt that got a target ejected (refused, then no target left for the retry: 503
 * destination_unavailable) is listed in `tries`, where before only `attempts: 1` said it was made.
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
    # No panic over ejections: the retry finds no target, so the line's own answer (503) is not
    # the attempt's (connection_refused), and only tries can tell of it.
    panic_threshold: 0
`);
  try {
    const target = new URL(refusing.url).origin;
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 503);
    const line = await gw.accessLine(1);
    assert.equal(line.error, 'destination_unavailable');
    assert.equal(line.attempts, 1);
    assert.deepEqual(
      (line.tries as Array<Record<string, unknown>>).map(({ ms, ...rest }) => rest),
      [{ target, error: 'connection_refused', stage: 'not_sent' }],
    );
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    assert.equal(
      sampleValue(all, 'candor_upstream_attempts_total', {
        upstream: 'app',
        target,
        outcome: 'connection_refused',
        reused_connection: 'false',
      }),
      (line.tries as unknown[]).length,
    );
    // explain counts the refused attempt as one the gateway retried.
    const read = candorReader.read(JSON.stringify(line));
    assert.deepEqual(read?.kind === 'request' ? read.retried : undefined, ['connection_refused']);
  } finally {
    await gw.close();
    await refusing.close();
  }
});
