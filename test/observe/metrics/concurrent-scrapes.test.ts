/**
 * Scrapes that come together under `serve --workers 2` are answered by one round of the
 * workers: each scrape asked every worker for its whole registry, so thirty at once on a gateway
 * of 1,000 routes (10 MB a scrape) kept both workers serialising past the 5 s bound, every one a
 * 503 and the ones after too, the workers' CPU taken from the traffic. Made certain here without
 * timing anything: a worker stopped (SIGSTOP) while twenty scrapes come, then continued; each
 * answer is 200, and all are the one text (each round has its own CPU seconds and memory).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../../helpers/wait.ts';
import { startCandor } from '../../server/gateway/candor-process.ts';
import { scrape } from './scrape.ts';

test('twenty scrapes while a worker is stopped: one round of the workers, twenty times the same 200', async () => {
  const metricsPort = await freePort();
  const candor = await startCandor(
    `metrics:\n  listen: 127.0.0.1:${metricsPort}\nroutes:\n  - match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n`,
    2,
  );
  const [stopped] = candor.workers();
  try {
    assert.equal((await scrape(metricsPort)).status, 200);
    process.kill(stopped, 'SIGSTOP');
    const scrapes = Array.from({ length: 20 }, () => scrape(metricsPort));
    // Time for the twenty to reach the primary (the stopped worker holds them all, well within 5 s).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    process.kill(stopped, 'SIGCONT');
    const answers = await Promise.all(scrapes);
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 200),
    );
    assert.match(answers[0].text, /candor_worker_cpu_seconds_total \d/);
    assert.equal(new Set(answers.map((a) => a.text)).size, 1);
  } finally {
    process.kill(stopped, 'SIGCONT');
    await candor.cleanup();
  }
});
