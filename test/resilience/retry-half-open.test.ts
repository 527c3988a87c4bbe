/**
 * A retry the circuit would refuse is not made: one decided while the circuit was half-open with
 * its probe out (a request sent before the circuit opened, failing while the probe is under way)
 * went into its backoff all the same, charged to the retry budget, and was called off only at its
 * end (`retry_skipped: circuit_open`): a retry never made spent a token of the budget, which
 * bounds the retries made. The rule now asks whether the circuit would admit it, as the end of the
 * backoff does: the request ends at once with its attempt's failure, and the budget is untouched.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

test('a retry decided while the half-open probe is out is skipped at once, circuit_open, spending no budget', async () => {
  let held: net.Socket | undefined;
  // /held waits until the test resets it; /fail resets at once; /probe hangs (the probe stays out).
  const script = (socket: net.Socket, req: { head: string }) => {
    if (req.head.startsWith('GET /held ')) held = socket;
    else if (req.head.startsWith('GET /fail ')) socket.resetAndDestroy();
  };
  const [a, b] = await Promise.all([scriptedUpstream(script), scriptedUpstream(script)]);
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
      - url: ${b.url}
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 1, open_time: 100ms, half_open_requests: 1 }
    retries: { attempts: 2, budget: { ratio: 0.2, min_concurrent: 3, min_per_second: 0 } }
`);
  const upstream = gw.gateway.runtime().upstreams.get('app');
  assert.ok(upstream);
  const wait = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(done());
  };
  try {
    const first = request(gw.url, { path: '/held', headers: { 'x-request-id': 'held' } });
    await wait(() => held !== undefined);
    // Its failure opens the circuit; its own retry is refused by it.
    assert.equal((await request(gw.url, { path: '/fail' })).status, 502);
    assert.equal(upstream.circuit.stateAt(performance.now()), 'open');
    await wait(() => upstream.circuit.stateAt(performance.now()) === 'half_open');
    const probe = request(gw.url, { path: '/probe', timeoutMs: 5000 }).catch(() => undefined);
    await wait(() => a.requests.length + b.requests.length === 3);
    assert.equal(upstream.circuit.wouldAdmit(performance.now()), false, 'the probe is out');
    const tokens = upstream.retryBudget.tokens;

    held?.resetAndDestroy();
    const answer = await first;
    assert.equal(answer.status, 502);
    assert.match(String(answer.headers['proxy-status']), /^edge-1; error=connection_terminated;/);
    const line = await gw.logFor('held');
    assert.equal(line.attempts, 1);
    assert.equal(line.retry_skipped, 'circuit_open');
    assert.equal(upstream.retryBudget.tokens, tokens, 'no token spent on a retry never made');
    assert.equal(upstream.retryBudget.inFlight, 0);
    await Promise.all([a.close(), b.close()]); // the probe's target goes: it ends
    await probe;
  } finally {
    await Promise.all([a.close(), b.close()]);
    await gw.close();
  }
});
