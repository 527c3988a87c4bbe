/**
 * A passive ejection is never silent: the gateway logs each ejection (target, reason, until)
 * and each return to rotation, as it logs an active check's `target down` and `target up`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('an ejection is logged with its target, reason and end, and so is the return', async () => {
  const upstream = await startSwitchable();
  upstream.setMode('reset');
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: `    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 200ms }`,
    }),
  );
  try {
    const origin = new URL(upstream.url).origin;
    assert.equal((await request(gw.url, { path: '/a' })).status, 502);
    assert.equal((await request(gw.url, { path: '/b' })).status, 502);
    await gw.accessLine(2);
    const ejected = gw.logs.filter((line) => line.msg === 'target ejected');
    assert.equal(ejected.length, 1, JSON.stringify(gw.logs));
    const { time, until, ...fields } = ejected[0];
    assert.deepEqual(fields, {
      level: 'warn',
      gateway: 'edge-1',
      upstream: 'app',
      target: origin,
      reason: 'connection_terminated',
      for_ms: 200,
      ejections: 1,
      msg: 'target ejected',
    });
    assert.ok(Date.parse(until as string) > Date.parse(time as string), `${until} after ${time}`);

    // Back: once the ejection ran out, the next request is the probe, and its success returns it.
    upstream.setMode('ok');
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    while (target?.isEjected(performance.now())) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await request(gw.url, { path: '/c' })).status, 200);
    // A probe of a target whose ejection ran out is an ordinary pick, not one made in panic (its
    // own probe slot, taken with the pick, made it read as out of rotation: `panic: true`).
    assert.equal(Object.hasOwn(await gw.accessLine(3), 'panic'), false);
    const back = gw.logs.filter((line) => line.msg === 'target back in rotation');
    assert.equal(back.length, 1, JSON.stringify(gw.logs));
    assert.equal(back[0].target, origin);
    assert.equal(back[0].upstream, 'app');
    assert.equal(back[0].ejections, 1);
    assert.equal(back[0].by, 'request', 'a request ended it');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('ejections in a row last longer each time; one comes off for each base_ejection_time the target then stays in rotation', async () => {
  const upstream = await startSwitchable();
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: `    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 500ms }`,
    }),
  );
  const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
  /** Two failures eject it: the `for_ms` of the ejection they make. */
  const eject = async (n: number): Promise<unknown> => {
    upstream.setMode('reset');
    await request(gw.url, { path: `/fail-${n}-a` });
    await request(gw.url, { path: `/fail-${n}-b` });
    const lines = gw.logs.filter((line) => line.msg === 'target ejected');
    assert.equal(lines.length, n, JSON.stringify(gw.logs));
    return lines[n - 1].for_ms;
  };
  /** Waits out the ejection; the next request is the probe, and its success brings it back. */
  const back = async (): Promise<void> => {
    upstream.setMode('ok');
    while (target?.isEjected(performance.now())) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await request(gw.url, { path: '/probe' })).status, 200);
  };
  try {
    assert.equal(await eject(1), 500);
    await back();
    // Failing again at once: the second in a row, twice as long.
    assert.equal(await eject(2), 1000);
    await back();
    // Two base ejection times in rotation take both off: a first ejection again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await eject(3), 500);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('max_ejected_percent: of five targets all resetting, 40% allows two ejections at once, never a third', async () => {
  const targets = await Promise.all(Array.from({ length: 5 }, () => startSwitchable()));
  for (const t of targets) t.setMode('reset');
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${targets.map((t) => `      - url: ${t.url}`).join('\n')}
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 0 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s, max_ejected_percent: 40 }
`);
  try {
    for (let i = 1; i <= 15; i++) assert.equal((await request(gw.url, { path: `/${i}` })).status, 502);
    await gw.accessLine(15);
    const ejected = gw.logs.filter((line) => line.msg === 'target ejected');
    assert.equal(ejected.length, 2, JSON.stringify(ejected));
    // The three left in rotation took every request after the two ejections.
    const origins = new Set(ejected.map((line) => line.target));
    const after = gw.logs.filter((line) => line.msg === 'request').slice(2);
    assert.ok(
      after.every((line) => !origins.has(line.target)),
      JSON.stringify(after.map((l) => l.target)),
    );
  } finally {
    await gw.close();
    await Promise.all(targets.map((t) => t.close()));
  }
});
