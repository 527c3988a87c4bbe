/**
 * A canary whose upstream holds requests (`hold`) while its targets restart: the judge counts a
 * held request once, not once per try the hold made while it waited (four a second), so a
 * restart its users only waited out does not outweigh their answers, and a few held requests
 * do not pass for the step's `min_requests`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('a request held on the canary counts once for its wait and once for its answer, however many tries the wait made', async () => {
  const stable = await startMoodyOrigin({ status: 200, fields: [], body: 'stable' });
  const port = await freePort();
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
    targets:
      - url: ${stable.url}
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
    await stable.stop();
    next.close();
  }
});
