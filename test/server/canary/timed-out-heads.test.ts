/**
 * A canary that hangs one request in two until the gateway's own `timeouts.response` ends it
 * (a 504 `http_response_timeout`), judged on latency (`compare: [latency, latency_p99]`, as
 * Kayenta users compare): each timed-out attempt was a `slow` failure alone, never a latency
 * sample, so the canary's latency held its answered half only, as fast as the baseline's, and it
 * was promoted, half of every user's requests ending in a 504. A client that gives up while the
 * head is awaited already counts as a latency sample of its wait (clients-give-up.test.ts): the
 * answer came no sooner. The gateway giving up for the client is the same wait, and now the same
 * sample (and still its `slow`). The test counts requests, never time.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

test('a canary whose requests hang until the gateway’s response timeout is rolled back on latency, never promoted', async () => {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  next.slowEvery = 2;
  next.slowMs = 5000;
  const path = join(tempDir('candor-canary-timeout-'), 'candor.yaml');
  writeFileSync(
    path,
    `name: canary-edge
listen:
  - address: 127.0.0.1:0
routes:
  - name: api
    match: { path: / }
    upstream: stable
    canary:
      upstream: next
      steps: [20, 40]
      step_interval: 3s
      check_interval: 1s
      min_requests: 40
      compare: [latency, latency_p99]
upstreams:
  stable:
    targets:
      - url: ${stable.url}
  next:
    targets:
      - url: ${next.url}
    retries: { attempts: 1 }    # each timeout reaches the client, as the canary's users saw it
    timeouts: { response: 1s }
`,
  );
  const serve = await startServe(path, 1);
  try {
    const lines = (msg: string) => serve.lines.filter((l) => l.msg === msg && l.route === 'api');
    await serve.waitForLines('canary step', 1);
    const ended = () =>
      lines('canary worse').length > 0 || lines('canary action').some((l) => l.action === 'promote');
    const seen = await paceLoad(`http://127.0.0.1:${serve.port}`, 150, ended, 4000);
    assert.ok((seen.statuses[504] ?? 0) > 0, `no request timed out: ${JSON.stringify(seen)}`);
    assert.ok(
      !lines('canary action').some((l) => l.action === 'promote'),
      `promoted, ${seen.statuses[504]} of ${seen.sent} requests having timed out on the canary`,
    );
    const [worse] = lines('canary worse');
    assert.ok(worse !== undefined, `not rolled back after ${seen.sent} requests: ${JSON.stringify(seen)}`);
    assert.ok(['latency', 'latency_p99'].includes(String(worse.metric)), `rolled back on ${worse.metric}`);
  } finally {
    await serve.stop();
    await stable.close();
    await next.close();
  }
});
