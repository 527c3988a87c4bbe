/**
 * A reload that removes the upstream requests wait for (`hold`): no check looks at its targets
 * any more, and a drain answers only the held requests of the upstreams of now. They are
 * answered at the reload, the honest 503, not left to hold.timeout or to the drain's cut.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const yaml = (upstream: string, port: number) => `name: edge-1
routes:
  - match: { path: / }
    upstream: ${upstream}
upstreams:
  ${upstream}:
    targets:
      - url: http://127.0.0.1:${port}
    hold: { timeout: 60s }
drain: { delay: 0s, timeout: 30s }
`;

test('a reload that removes the upstream requests wait for answers them 503 at once, saying so, and a drain after it waits for none', async () => {
  const port = await freePort();
  const edge = await startTestGateway(yaml('app', port));
  const queue = edge.gateway.runtime().upstreams.get('app')?.hold;
  try {
    const waiting = request(edge.url, {
      path: '/held',
      headers: { 'x-request-id': 'gone' },
      timeoutMs: 20_000,
    });
    await waitUntil('held', () => queue?.size === 1);
    await edge.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml('renamed', port)}`, '<test>', {}),
    );
    const res = await waiting;
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(
      String(res.headers['proxy-status']),
      /error=destination_unavailable; details=".*a reload removed \\"app\\" from the config: nothing waits for it; the last try: connection_refused/,
    );
    assert.equal(queue?.size, 0);
    const line = await edge.logFor('gone');
    assert.equal(line.status, 503);
    assert.equal(typeof line.held_ms, 'number');
    // A request of the new config waits in the new upstream's line; the drain answers it.
    const next = request(edge.url, { path: '/next', timeoutMs: 20_000 });
    await waitUntil('held again', () => edge.gateway.runtime().upstreams.get('renamed')?.hold.size === 1);
    const drained = edge.gateway.drain();
    assert.equal((await next).status, 503);
    await drained;
  } finally {
    await edge.close();
  }
});
