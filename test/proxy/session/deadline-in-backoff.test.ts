/**
 * `timeouts.total` passing while a retry waits out its backoff: the retry never runs, and the
 * client gets the failure that was last seen (the refusal's 502 `connection_refused`), its
 * details saying the total deadline left no time for another try. Before, the retry started
 * anyway (or the deadline answered for it) and the request was reported as a 504
 * `http_response_timeout`: a slowness nobody saw.
 *
 * The gateway runs in this process: once the first attempt is refused (the targets' in-flight
 * counts go up and down again: its backoff is set in that same turn), the test holds the event
 * loop past the deadline, as a busy process would, so that both the backoff and the deadline
 * are due when it lets go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdLoopAfterFirstAttempt } from '../../helpers/busy-loop.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test("the total deadline passing during a retry's backoff after a refusal: the refusal's 502, saying no time was left", async (t) => {
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:1
      - url: http://127.0.0.1:2
    outlier_detection: { consecutive_failures: 0 }
    timeouts: { response: 500ms, total: 500ms }
    retries: { attempts: 2, backoff: { base: 400ms, max: 400ms } }
`);
  t.after(() => gw.close());
  const targets = gw.gateway.runtime().upstreams.get('app')?.targets ?? [];
  // The first attempt was refused and its backoff set: the loop is held past the deadline.
  holdLoopAfterFirstAttempt(targets, 700);
  const res = await request(gw.url, { headers: { 'x-request-id': 'late-retry' } });
  assert.equal(res.status, 502);
  assert.match(
    String(res.headers['proxy-status']),
    /^edge-1; error=connection_refused; details="[^"]*; the total timeout of 500 ms left no time for another try"; next-hop="app"$/,
  );
  const line = await gw.logFor('late-retry');
  assert.equal(line.status, 502);
  assert.equal(line.error, 'connection_refused');
  assert.equal(line.stage, 'not_sent');
  assert.match(String(line.details), /; the total timeout of 500 ms left no time for another try$/);
  assert.equal(line.attempts, 1, 'the retry never ran');
  // The retry made for the refusal ended with it, not as a client that left (which it did not).
  const { text } = await gw.gateway.metrics.exposition();
  assert.deepEqual(
    text.split('\n').filter((l) => l.startsWith('candor_retries_total{')),
    ['candor_retries_total{upstream="app",reason="connection_refused",result="connection_refused"} 1'],
  );
});
