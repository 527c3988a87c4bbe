/**
 * A target's return from an ejection is counted beside the ejection: `candor_target_returns_total`
 * (by what ended it), so `increase(ejections) - increase(returns)` reads the targets out now.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { named, samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

test('a request that succeeds once the ejection ran out returns the target, counted once beside its ejection', async () => {
  const upstream = await startSwitchable();
  upstream.setMode('reset');
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 200ms }
`);
  try {
    const target = new URL(upstream.url).origin;
    const port = gw.gateway.metricsPort() as number;
    const read = async () => samples((await scrape(port)).text);
    assert.equal((await request(gw.url, { path: '/a' })).status, 502);
    assert.equal((await request(gw.url, { path: '/b' })).status, 502);
    let all = await read();
    assert.equal(sampleValue(all, 'candor_target_ejections_total', { upstream: 'app', target }), 1);
    assert.equal(
      sampleValue(all, 'candor_target_returns_total', { upstream: 'app', target, by: 'request' }),
      undefined,
      'not back yet',
    );

    upstream.setMode('ok');
    const state = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    while (state?.isEjected(performance.now())) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await request(gw.url, { path: '/c' })).status, 200);
    assert.equal((await request(gw.url, { path: '/d' })).status, 200);
    all = await read();
    assert.equal(
      sampleValue(all, 'candor_target_returns_total', { upstream: 'app', target, by: 'request' }),
      1,
      named(all, 'candor_target_returns_total'),
    );
    assert.equal(
      sampleValue(all, 'candor_target_returns_total', { upstream: 'app', target, by: 'check' }),
      undefined,
    );
    assert.equal(sampleValue(all, 'candor_target_ejections_total', { upstream: 'app', target }), 1);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a passing health check that ends an ejection for held requests counts a return by check', async () => {
  const port = await freePort();
  const target = `http://127.0.0.1:${port}`;
  // Checks that never take the target out (fall 100): only the ejection keeps it out of rotation.
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${target}
    hold: { timeout: 20s }
    health_check: { path: /health, interval: 3600s, rise: 1, fall: 100 }
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 0 }
`);
  const upstream = http.createServer((_req, res) => res.end('back'));
  try {
    const waiting = request(gw.url, { path: '/held', timeoutMs: 20_000 });
    await waitUntil('ejected', () => gw.logs.some((l) => l.msg === 'target ejected'));
    await waitUntil('held', () => (gw.gateway.runtime().upstreams.get('app')?.hold.size ?? 0) === 1);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    assert.equal((await waiting).status, 200);
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    assert.equal(
      sampleValue(all, 'candor_target_returns_total', { upstream: 'app', target, by: 'check' }),
      1,
      named(all, 'candor_target_returns_total'),
    );
    assert.equal(
      sampleValue(all, 'candor_target_returns_total', { upstream: 'app', target, by: 'request' }),
      undefined,
    );
    assert.equal(sampleValue(all, 'candor_target_ejections_total', { upstream: 'app', target }), 1);
  } finally {
    await gw.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('a failed probe that ejects the target again is no new ejection to count: once it returns, ejections less returns is 0', async () => {
  const upstream = await startSwitchable();
  upstream.setMode('reset');
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 0 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 200ms }
`);
  try {
    const target = new URL(upstream.url).origin;
    const read = async () => samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const state = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    const ranOut = async () => {
      while (state?.isEjected(performance.now())) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    for (const path of ['/a', '/b']) assert.equal((await request(gw.url, { path })).status, 502);
    // Its ejection over, the probe meets the reset: out again, for longer, never back in between.
    await ranOut();
    assert.equal((await request(gw.url, { path: '/probe' })).status, 502);
    let all = await read();
    assert.equal(
      sampleValue(all, 'candor_target_ejections_total', { upstream: 'app', target }),
      1,
      'one ejection, still holding: the difference with the returns (none) says one target out',
    );
    const lines = gw.logs.filter((l) => l.msg === 'target ejected');
    assert.deepEqual(
      lines.map((l) => [l.ejections, l.again]),
      [
        [1, undefined],
        [2, true],
      ],
      'the failed probe is told, as the same ejection again',
    );

    upstream.setMode('ok');
    await ranOut();
    assert.equal((await request(gw.url, { path: '/back' })).status, 200);
    all = await read();
    assert.equal(
      sampleValue(all, 'candor_target_returns_total', { upstream: 'app', target, by: 'request' }),
      1,
    );
    assert.equal(
      sampleValue(all, 'candor_target_ejections_total', { upstream: 'app', target }),
      1,
      'back in rotation: increase(ejections) - increase(returns) reads 0 targets out',
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});
