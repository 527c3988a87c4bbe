/**
 * An attempt the client abandons (it left before the upstream's head came back) is counted
 * once: one attempt, one duration, with the client's failure type.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { samples, sampleValue, scrape } from './scrape.ts';

test('an attempt the client left is counted once, with the client failure type', async () => {
  const hole = await startBlackhole();
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - name: api
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${hole.url}
`);
  try {
    const socket = connect(gw.port, '127.0.0.1');
    socket.write('GET /x HTTP/1.1\r\nhost: a\r\n\r\n');
    // The attempt is under way once the upstream has the connection.
    while (gw.gateway.runtime().upstreams.get('app')?.inFlight.count !== 1)
      await new Promise((resolve) => setTimeout(resolve, 5));
    socket.destroy();
    const line = await gw.accessLine(1);
    assert.equal(line.status, 499);
    assert.equal(line.attempts, 1);
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const target = new URL(hole.url).origin;
    assert.equal(
      sampleValue(all, 'candor_upstream_attempts_total', {
        upstream: 'app',
        target,
        outcome: 'client_closed',
        reused_connection: 'false',
      }),
      1,
    );
    assert.equal(
      sampleValue(all, 'http_client_request_duration_seconds_count', {
        upstream: 'app',
        target,
        http_request_method: 'GET',
        http_response_status_code: '',
        error_type: 'client_closed',
      }),
      1,
    );
  } finally {
    await gw.close();
    await hole.close();
  }
});
