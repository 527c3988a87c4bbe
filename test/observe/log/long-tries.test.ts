/**
 * A request held for long (`hold`) tries again every 250 ms while it is first in line: its log
 * line listed every try, hundreds of them at a hold of a minute, past what log pipelines take
 * as one line (Docker splits at 16 KiB). The line lists the first and the last ten, the rest
 * counted by error in their place; `attempts` counts them all, and `candor explain` too.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { candorReader } from '../../../src/kits/explain/readers/candor-reader.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';
import { samples } from '../metrics/scrape.ts';

test('a request held through 25 refused tries: its line lists 20 of them and counts the rest by error; explain counts every one', async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: '    hold: { timeout: 50s }\n    timeouts: { total: 55s }',
    }),
  );
  const upstream = http.createServer((_req, res) => res.end('back'));
  try {
    const answer = request(edge.url, {
      path: '/held',
      headers: { 'x-request-id': 'long' },
      timeoutMs: 50_000,
    });
    const refused = async () =>
      samples((await edge.gateway.metrics.exposition()).text)
        .filter(
          (s) => s.name === 'candor_upstream_attempts_total' && s.labels.outcome === 'connection_refused',
        )
        .reduce((sum, s) => sum + s.value, 0);
    // Scraped (async) until 25 tries were refused; bounded by the wait's own 40 s, as waitUntil's.
    const until = performance.now() + 40_000;
    while ((await refused()) < 25) {
      assert.ok(performance.now() < until, 'still not 25 refused tries after 40 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    assert.equal((await answer).status, 200);
    const line = await edge.logFor('long');
    const attempts = line.attempts as number;
    const tries = line.tries as Array<Record<string, unknown>>;
    assert.ok(attempts >= 26, `${attempts} attempts`);
    assert.equal(tries.length, 21);
    const omitted = attempts - 20;
    assert.deepEqual(tries[10], { omitted, errors: { connection_refused: omitted } });
    for (const shown of [...tries.slice(0, 10), ...tries.slice(11, 20)])
      assert.equal(shown.error, 'connection_refused');
    assert.equal(tries[20].status, 200);
    // Read back as explain reads it: every refused try is a retried attempt of the request.
    const read = candorReader.read(JSON.stringify(line));
    assert.ok(read?.kind === 'request');
    const counted =
      (read.retried?.length ?? 0) + (read.retriedOmitted ?? []).reduce((sum, [, n]) => sum + n, 0);
    assert.equal(counted, attempts - 1);
  } finally {
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
