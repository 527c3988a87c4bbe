/**
 * Slow start is for every way back into rotation, not only the active checks' `rise`: a target
 * whose ejection ran out and whose probe request succeeded starts at a small share of its weight
 * and has all of it once `slow_start` is over. Shares are counted by when the requests reached
 * the targets (both in this process, on the clock of inRotationSince), so a slow machine sends
 * fewer requests but not a different share; the test asserts bounds, never timings.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A keep-alive upstream that resets every request until told to answer 200. */
async function startResetting() {
  let resetting = true;
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      await readRequest(connection);
      if (resetting) return connection.reset(0);
      await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }
  });
  return {
    fault,
    heal: () => {
      resetting = false;
    },
  };
}

/** `n` GETs at once; each is answered (200, or the reset target's 502 while it is tried). */
async function burst(gw: TestGateway, n: number, tag: string): Promise<number[]> {
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) => request(gw.url, { path: `/${tag}${i}` })),
  );
  return responses.map((r) => r.status);
}

const inWindow = (fault: Fault, from: number, to: number) =>
  fault.received.filter((r) => r.receivedAt >= from && r.receivedAt < to).length;

test('a target back from an ejection takes traffic gradually over slow_start', async () => {
  const echo = await startEcho();
  const flaky = await startResetting();
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
      - url: ${flaky.fault.url}
    retries: { attempts: 1 }
    slow_start: 5s
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 200ms, max_ejected_percent: 50 }
`);
  try {
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[1];
    assert.ok(target);
    for (let i = 0; !target.isEjected(performance.now()); i++) {
      assert.ok(i < 20, 'ejected after its resets');
      await request(gw.url, { path: `/fail${i}` });
    }
    flaky.heal();
    // Its ejection runs out; the next request it gets is its probe, whose success returns it.
    for (let i = 0; gw.logs.every((l) => l.msg !== 'target back in rotation'); i++) {
      assert.ok(i < 200, 'back in rotation');
      assert.deepEqual(await burst(gw, 2, `wait${i}-`), [200, 200]);
      await sleep(10);
    }
    const upAt = target.inRotationSince;
    assert.ok(Number.isFinite(upAt));

    // A fifth of slow_start: long enough for a loaded machine to land a few bursts in it (at 2 s
    // and 400 ms, one burst under the whole suite's load came after the window).
    const EARLY = 1000;
    while (performance.now() < upAt + EARLY) assert.ok((await burst(gw, 10, 'e')).every((s) => s === 200));
    const earlyB = inWindow(flaky.fault, upAt, upAt + EARLY);
    const earlyAll = earlyB + inWindow(echo, upAt, upAt + EARLY);
    assert.ok(earlyAll >= 5, `only ${earlyAll} requests in the first ${EARLY} ms`);
    // At most 28% of its weight by then: at most about 22% of the requests, never half.
    assert.ok(earlyB < earlyAll * 0.35, `${earlyB}/${earlyAll} in the first ${EARLY} ms`);

    const windowEnd = upAt + 5000;
    await sleep(windowEnd + 50 - performance.now());
    assert.ok((await burst(gw, 40, 'l')).every((s) => s === 200));
    const late = inWindow(flaky.fault, windowEnd, Number.POSITIVE_INFINITY);
    assert.equal(late + inWindow(echo, windowEnd, Number.POSITIVE_INFINITY), 40);
    assert.ok(late >= 16 && late <= 24, `${late}/40 after the window`);
  } finally {
    await gw.close();
    await echo.close();
    await flaky.fault.close();
  }
});
