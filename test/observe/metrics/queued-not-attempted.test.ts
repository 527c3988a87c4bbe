/**
 * A request that never left a full pool's queue (its wait ran out: 503
 * connection_limit_reached; its client left: 499) sent nothing to the target: its log line says
 * `attempts: 0` with no `tries` entry, and the metrics of attempts agree: no
 * candor_upstream_attempts_total and no http_client_request_duration_seconds for it, as for
 * one a full queue refused at once. They counted it an attempt to the target, and observed its
 * queue wait as one.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { named, samples, sampleValue, scrape } from './scrape.ts';

test('a request that never left the queue is no attempt in the metrics, as in its log line', async () => {
  const slow = await startEcho();
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - name: api
    match: { path: / }
    upstream: app
upstreams:
  app:
    pool: { max_connections: 1, max_pending: 2, queue_timeout: 300ms }
    retries: { attempts: 1 }
    targets:
      - url: ${slow.url}
`);
  try {
    const busy = request(gw.url, { path: '/?delay=1500', headers: { 'x-request-id': 'busy' } });
    await slow.waitForRequest(1);
    // One waits out its queue_timeout; another's client leaves while it waits.
    const expired = request(gw.url, { path: '/', headers: { 'x-request-id': 'expired' } });
    const leaving = connect(gw.port, '127.0.0.1');
    leaving.on('error', () => {});
    leaving.write('GET /leaving HTTP/1.1\r\nhost: a\r\nx-request-id: leaving\r\n\r\n');
    const upstream = gw.gateway.runtime().upstreams.get('app');
    while (upstream?.pending.count !== 2) await new Promise((resolve) => setTimeout(resolve, 10));
    leaving.destroy();
    assert.equal((await expired).status, 503);
    assert.equal((await busy).status, 200);
    const lines = await Promise.all(['busy', 'expired', 'leaving'].map((id) => gw.logFor(id)));
    assert.deepEqual(
      lines.map((l) => [l.status, l.error, l.attempts]),
      [
        [200, undefined, 1],
        [503, 'connection_limit_reached', 0],
        [499, 'client_closed', 0],
      ],
    );
    assert.equal(slow.received.length, 1, 'only the busy request reached the upstream');
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const target = new URL(slow.url).origin;
    const attempts = all.filter((s) => s.name === 'candor_upstream_attempts_total');
    assert.deepEqual(
      attempts.map((s) => [s.labels.outcome, s.value]),
      [['response', 1]],
      named(all, 'candor_upstream_attempts_total'),
    );
    const durations = all.filter((s) => s.name === 'http_client_request_duration_seconds_count');
    assert.deepEqual(
      durations.map((s) => [
        s.labels.target,
        s.labels.http_response_status_code,
        s.labels.error_type,
        s.value,
      ]),
      [[target, '200', '', 1]],
      named(all, 'http_client_request_duration_seconds_count'),
    );
    // The requests themselves are each counted once, as their lines say.
    for (const [code, origin, errorType] of [
      ['200', 'upstream', ''],
      ['503', 'gateway', 'connection_limit_reached'],
      ['499', 'client', 'client_closed'],
    ])
      assert.equal(
        sampleValue(all, 'candor_responses_total', { route: 'api', code, origin, error_type: errorType }),
        1,
        named(all, 'candor_responses_total'),
      );
  } finally {
    await gw.close();
    await slow.close();
  }
});
