/**
 * A request of a split route held on another side than the one drawn for it (its own side
 * refused it, and so did the one it went to) keeps the total deadline of the side drawn: its
 * 503, when that deadline passes while it waits, names that deadline, not the other side's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyPoint } from '../../../src/proxy/select/split.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

/** A user the split's hash places on blue, its first side of two of equal weight. */
const BLUE_USER = (() => {
  for (let n = 0; ; n++) if (keyPoint(`u${n}`) < 0.5) return `u${n}`;
})();

test("a request held on the other side of its split when its own side's timeouts.total passes: the 503 names that deadline", async () => {
  const [bluePort, greenPort] = [await freePort(), await freePort()];
  // Both sides refuse: the request drawn to blue goes to green, is refused there too, and waits in green's line.
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    split:
      - { upstream: blue, weight: 1 }
      - { upstream: green, weight: 1 }
    hash_key: header:X-User
upstreams:
  blue:
    hold: { timeout: 30s }
    timeouts: { response: 1s, total: 1s }
    targets:
      - url: http://127.0.0.1:${bluePort}
  green:
    hold: { timeout: 30s }
    timeouts: { total: 45s }
    targets:
      - url: http://127.0.0.1:${greenPort}
`);
  try {
    const res = await request(gw.url, {
      path: '/app',
      headers: { 'x-user': BLUE_USER, 'x-request-id': 'moved' },
      timeoutMs: 20_000,
    });
    assert.equal(res.status, 503);
    const line = await gw.logFor('moved');
    assert.equal(line.upstream, 'green', 'it waited on the side it moved to');
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=destination_unavailable; details="no target of \\"green\\" took the request within timeouts\.total \(1000 ms\); the last try: connection_refused/,
    );
  } finally {
    await gw.close();
  }
});
