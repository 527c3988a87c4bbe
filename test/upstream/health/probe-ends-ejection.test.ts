/**
 * A passing probe while requests wait for the upstream (`hold`) ends a passive ejection
 * (outlier.ts, unejectedByProbe). The ejection was logged (`target ejected`, with its end); its
 * early end was not: the log said the target was out until a time it had long been back by.
 * It is logged `target back in rotation`, as an ejection a request's success ends.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('an ejection a passing probe ends for held requests is logged as a return', async () => {
  const port = await freePort();
  // Checks that never take the target out (fall 100): only the ejection keeps it out of rotation.
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: `    hold: { timeout: 20s }
    health_check: { path: /health, interval: 3600s, rise: 1, fall: 100 }
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 0 }
`,
    }),
  );
  const upstream = http.createServer((_req, res) => res.end('back'));
  try {
    const waiting = request(edge.url, {
      path: '/held',
      headers: { 'x-request-id': 'held' },
      timeoutMs: 20_000,
    });
    await waitUntil('ejected', () => edge.logs.some((l) => l.msg === 'target ejected'));
    await waitUntil('held', () => (edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0) === 1);
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    assert.equal((await waiting).status, 200);
    const back = edge.logs.filter((l) => l.msg === 'target back in rotation');
    assert.equal(back.length, 1, JSON.stringify(edge.logs));
    assert.deepEqual(
      [back[0].level, back[0].upstream, back[0].target, back[0].ejections, back[0].by],
      ['info', 'app', `http://127.0.0.1:${port}`, 1, 'check'],
    );
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
