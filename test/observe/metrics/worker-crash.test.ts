/**
 * `serve --workers N`: a worker that dies is replaced by one that counts from 0. Its counts as
 * last scraped stay in the primary's sum: a counter that went down would be a reset to rate()
 * and increase(), which would then read the other workers' whole totals as the window's
 * increase. On a real process tree, with a real SIGKILL.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { startCandor } from '../../server/gateway/candor-process.ts';
import { sampleValue, scrape, scrapeUntil } from './scrape.ts';

const ANSWERED = { route: 'api', code: '200', origin: 'upstream', error_type: '' };
const TIMED = {
  http_route: 'api',
  http_request_method: 'GET',
  http_response_status_code: '200',
  error_type: '',
};

test("a worker killed and replaced: its counts stay in the scrape, the gauges are the new worker's", async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const metricsPort = await freePort();
  // A fixed port: with its only worker dead the primary closes the listening socket until the new one listens.
  const candor = await startCandor(
    `metrics:\n  listen: 127.0.0.1:${metricsPort}\nroutes:\n  - name: api\n    match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:${port}\n`,
    1,
    `127.0.0.1:${await freePort()}`,
  );
  try {
    for (let i = 0; i < 3; i++)
      assert.equal((await request(`http://127.0.0.1:${candor.port}`, { path: `/a${i}` })).status, 200);
    const before = await scrapeUntil(
      metricsPort,
      (all) => sampleValue(all, 'candor_responses_total', ANSWERED) === 3,
    );
    assert.equal(sampleValue(before, 'candor_responses_total', ANSWERED), 3);

    const [worker] = candor.workers();
    process.kill(worker, 'SIGKILL');
    await waitUntil('the worker replaced', () => {
      const now = candor.workers();
      return now.length === 1 && now[0] !== worker;
    });
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++)
      status = await request(`http://127.0.0.1:${candor.port}`, { path: '/b' }).then(
        (r) => r.status,
        () => new Promise<number>((r) => setTimeout(() => r(0), 50)),
      );
    assert.equal(status, 200);

    const after = await scrapeUntil(
      metricsPort,
      (all) => sampleValue(all, 'candor_responses_total', ANSWERED) === 4,
    );
    // The dead worker's 3 and the new one's 1: never fewer than the scrape before.
    assert.equal(sampleValue(after, 'candor_responses_total', ANSWERED), 4, candor.stderr());
    assert.equal(sampleValue(after, 'http_server_request_duration_seconds_count', TIMED), 4);
    assert.equal(
      sampleValue(after, 'http_server_request_duration_seconds_bucket', { ...TIMED, le: '+Inf' }),
      4,
    );
    // A gauge is the live worker's alone: its retry budget (3 at once + 10 a second), not two workers'.
    assert.equal(sampleValue(after, 'candor_retry_budget_remaining', { upstream: 'app' }), 13);
  } finally {
    await candor.cleanup();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
});

test('scrapes while a replacement worker starts are answered, not failed after 5 s', async () => {
  const metricsPort = await freePort();
  const candor = await startCandor(
    `metrics:\n  listen: 127.0.0.1:${metricsPort}\nroutes:\n  - match: { path: / }\n    upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n`,
    1,
  );
  try {
    assert.equal((await scrape(metricsPort)).status, 200);
    const [worker] = candor.workers();
    process.kill(worker, 'SIGKILL');
    // The replacement is forked at once: until it listens, a scrape reached it before it
    // listened for one, was lost, and failed the whole scrape 5 s later (503).
    const statuses: number[] = [];
    const started = () => candor.lines().filter((l) => l.msg === 'listening').length >= 2;
    for (let i = 0; i < 200 && !started(); i++) statuses.push((await scrape(metricsPort)).status);
    statuses.push((await scrape(metricsPort)).status);
    assert.deepEqual([...new Set(statuses)], [200], candor.stderr());
  } finally {
    await candor.cleanup();
  }
});
