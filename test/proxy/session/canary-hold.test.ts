/**
 * A canary whose upstream holds requests (`hold`) while its targets restart: the judge counts a
 * held request once, not once per try the hold made while it waited (four a second), so a
 * restart its users only waited out does not outweigh their answers, and a few held requests
 * do not pass for the step's `min_requests`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { keyPoint } from '../../../src/proxy/select/split.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

/** Probes an hour apart, every verdict believed: a side out of rotation until a probe says otherwise. */
const DOWN_BY_CHECK = `    health_check: { path: /health, interval: 3600s, timeout: 1s, rise: 1, fall: 1 }
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 0 }
`;

test('a request held on the canary counts once for its wait and once for its answer, however many tries the wait made', async () => {
  // The baseline is out of rotation too (its health check fails): a request no canary target
  // takes would go to a healthy baseline rather than wait, so nothing would be held.
  const [stablePort, port] = [await freePort(), await freePort()];
  // One look an hour: the window is the test's to read, not taken by the controller meanwhile.
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: / }
    upstream: stable
    hash_key: header:X-User
    canary: { upstream: next, steps: [50], step_interval: 1h, check_interval: 1h }
upstreams:
  stable:
${DOWN_BY_CHECK}    targets:
      - url: http://127.0.0.1:${stablePort}
  next:
    hold: { timeout: 20s }
    retries: { attempts: 1 }
    targets:
      - url: http://127.0.0.1:${port}
`);
  const next = http.createServer((_req, res) => res.end('next'));
  try {
    const window = gw.gateway.runtime().splits.get('api')?.window;
    assert.ok(window);
    const held = () => gw.gateway.runtime().upstreams.get('next')?.hold.size ?? 0;
    const baseline = gw.gateway.runtime().upstreams.get('stable')?.targets[0];
    await waitUntil('the baseline out of rotation', () => baseline?.checkedHealthy === false);
    // Users until one is drawn to the canary, whose targets refuse: that one waits.
    let waiting: ReturnType<typeof request> | undefined;
    for (let n = 0; n < 40 && waiting === undefined; n++) {
      const asked = request(gw.url, {
        path: '/page',
        headers: { 'x-user': `u${n}`, 'x-request-id': 'held' },
        timeoutMs: 20_000,
      });
      const settled = await Promise.race([
        asked.then(() => 'answered'),
        waitUntil('held', () => held() === 1, 2000).then(
          () => 'held',
          () => 'answered',
        ),
      ]);
      if (settled === 'held') waiting = asked;
      else window.take();
    }
    assert.ok(waiting, 'a user on the canary');
    // The hold tries again every 250 ms while it waits: let it try a few times.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await new Promise<void>((resolve) => next.listen(port, '127.0.0.1', resolve));
    const answer = await waiting;
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'next');
    const line = await gw.logFor('held');
    assert.ok((line.attempts as number) > 2, `the hold tried ${line.attempts} times`);
    const counts = window.take();
    const { requests, unreachable } = counts.canary;
    assert.deepEqual({ requests, unreachable }, { requests: 2, unreachable: 1 });
  } finally {
    await gw.close();
    next.close();
  }
});

/** A user the canary's split (the canary first, at 50 %) places on the canary: its hash in the first half. */
const CANARY_USER = (() => {
  for (let n = 0; ; n++) if (keyPoint(`u${n}`) < 0.5) return `u${n}`;
})();
/** And one it places on the baseline. */
const STABLE_USER = (() => {
  for (let n = 0; ; n++) if (keyPoint(`u${n}`) >= 0.5) return `u${n}`;
})();

const canaryRoute = (
  stablePort: number,
  nextPort: number,
  checks = '',
  stableChecks = checks,
) => `name: edge-1
routes:
  - name: api
    match: { path: / }
    upstream: stable
    hash_key: header:X-User
    canary: { upstream: next, steps: [50], step_interval: 1h, check_interval: 1h }
upstreams:
  stable:
${stableChecks}    targets:
      - url: http://127.0.0.1:${stablePort}
  next:
    hold: { timeout: 30s }
    retries: { attempts: 1 }
${checks}    targets:
      - url: http://127.0.0.1:${nextPort}
`;

test('a request held on the canary while both sides are down goes to the baseline when a target of it comes back', async () => {
  const [stablePort, nextPort] = [await freePort(), await freePort()];
  // Both sides out of rotation (their probes an hour apart): the canary's own probe never passes.
  const gw = await startTestGateway(canaryRoute(stablePort, nextPort, DOWN_BY_CHECK));
  const stable = http.createServer((_req, res) => res.end('stable'));
  try {
    const runtime = gw.gateway.runtime();
    const held = () => runtime.upstreams.get('next')?.hold.size ?? 0;
    const baseline = runtime.upstreams.get('stable')?.targets[0];
    const canary = runtime.upstreams.get('next')?.targets[0];
    await waitUntil(
      'both sides out of rotation',
      () => baseline?.checkedHealthy === false && canary?.checkedHealthy === false,
    );
    const waiting = request(gw.url, {
      path: '/page',
      headers: { 'x-user': CANARY_USER, 'x-request-id': 'held' },
      timeoutMs: 20_000,
    });
    await waitUntil('held on the canary', () => held() === 1);
    // The baseline comes back (a probe says so): the request waiting for the canary goes there.
    await new Promise<void>((resolve) => stable.listen(stablePort, '127.0.0.1', resolve));
    runtime.upstreams.get('stable')?.hold.probeNow?.();
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'stable');
    assert.equal(held(), 0);
    assert.equal(typeof (await gw.logFor('held')).held_ms, 'number');
  } finally {
    await gw.close();
    stable.close();
  }
});

test('a request held on the canary goes to the baseline when the canary is rolled back, not on waiting for its targets', async () => {
  const [stablePort, nextPort] = [await freePort(), await freePort()];
  // The canary out of rotation by its probes (an hour apart); the baseline ejected for a second
  // by one refusal, then back in rotation when that runs out, which wakes nobody: only the
  // rollback can send the held request there.
  const ejectedBriefly = `    panic_threshold: 0
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 1s }
`;
  const gw = await startTestGateway(canaryRoute(stablePort, nextPort, DOWN_BY_CHECK, ejectedBriefly));
  const stable = http.createServer((_req, res) => res.end('stable'));
  try {
    const runtime = gw.gateway.runtime();
    const held = () => runtime.upstreams.get('next')?.hold.size ?? 0;
    const baseline = runtime.upstreams.get('stable')?.targets[0];
    const canary = runtime.upstreams.get('next')?.targets[0];
    await waitUntil('the canary out of rotation', () => canary?.checkedHealthy === false);
    const refused = await request(gw.url, { path: '/page', headers: { 'x-user': STABLE_USER } });
    // Refused (502), or no target left for its retry once the refusal ejected it (503).
    assert.ok([502, 503].includes(refused.status), `${refused.status}`);
    assert.ok((baseline?.ejectedUntil ?? 0) > performance.now(), 'the baseline ejected');
    const waiting = request(gw.url, {
      path: '/page',
      headers: { 'x-user': CANARY_USER, 'x-request-id': 'held' },
      timeoutMs: 20_000,
    });
    await waitUntil('held on the canary', () => held() === 1);
    await new Promise<void>((resolve) => stable.listen(stablePort, '127.0.0.1', resolve));
    await waitUntil(
      'the baseline back in rotation',
      () => (baseline?.ejectedUntil ?? 0) <= performance.now(),
    );
    assert.equal(held(), 1);
    const answer = await gw.gateway.canary('api', 'rollback', 'test');
    assert.equal('problem' in answer, false, JSON.stringify(answer));
    // The canary's share is 0 now: the request goes to the baseline (its targets never came back).
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'stable');
    assert.equal(held(), 0);
    const line = await gw.logFor('held');
    assert.equal(line.status, 200);
    assert.equal(typeof line.held_ms, 'number');
  } finally {
    await gw.close();
    stable.close();
  }
});

test("a request no canary target takes goes to the healthy baseline at once, not into the canary's hold", async () => {
  const [stablePort, nextPort] = [await freePort(), await freePort()];
  const gw = await startTestGateway(canaryRoute(stablePort, nextPort));
  const stable = http.createServer((_req, res) => res.end('stable'));
  await new Promise<void>((resolve) => stable.listen(stablePort, '127.0.0.1', resolve));
  try {
    const window = gw.gateway.runtime().splits.get('api')?.window;
    assert.ok(window);
    const res = await request(gw.url, {
      path: '/page',
      headers: { 'x-user': CANARY_USER, 'x-request-id': 'moved' },
      timeoutMs: 20_000,
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'stable');
    const line = await gw.logFor('moved');
    assert.equal(line.held_ms, undefined);
    // The log names the upstream that answered, the one its last try went to.
    assert.equal(line.upstream, 'stable');
    // The canary's refusal is the canary's to count, the baseline's answer the baseline's.
    const counts = window.take();
    assert.deepEqual(
      { canary: [counts.canary.requests, counts.canary.unreachable], baseline: counts.baseline.requests },
      { canary: [1, 1], baseline: 1 },
    );
  } finally {
    await gw.close();
    stable.close();
  }
});

test("on a cached canary route, the baseline's answer to a request that moved there is not stored as the canary's", async () => {
  const stable = http.createServer((_req, res) => {
    res.setHeader('cache-control', 'max-age=60');
    res.end('stable');
  });
  await new Promise<void>((resolve) => stable.listen(0, '127.0.0.1', resolve));
  const { port: stablePort } = stable.address() as import('node:net').AddressInfo;
  const nextPort = await freePort();
  const gw = await startTestGateway(
    canaryRoute(stablePort, nextPort).replace(
      '    hash_key: header:X-User\n',
      '    hash_key: header:X-User\n    cache: {}\n',
    ),
  );
  try {
    const ask = () => request(gw.url, { path: '/page', headers: { 'x-user': CANARY_USER } });
    const first = await ask();
    assert.equal(first.text, 'stable');
    // The canary's key holds nothing: the next canary user is not given the baseline's page as a hit.
    const second = await ask();
    assert.equal(second.text, 'stable');
    assert.equal(second.headers['cache-status'], 'edge-1; fwd=uri-miss');
  } finally {
    await gw.close();
    stable.close();
  }
});
