/**
 * A circuit's state is the gateway's, not each worker's: under `candor serve --workers 2`, a
 * circuit one worker opens opens on the other, and once one worker's probe finds the upstream
 * answering again, the other closes too instead of failing fast until a probe of its own.
 * Read from the primary's merged `candor_circuit_state` (averaged: 1 = every worker, 0.5 = half).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../observe/metrics/scrape.ts';

async function circuit(metricsPort: number, state: string): Promise<number | undefined> {
  const answer = await scrape(metricsPort);
  return sampleValue(samples(answer.text), 'candor_circuit_state', { upstream: 'app', target: '', state });
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`still not ${what} after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('an open circuit opens on every worker, and one worker closing it closes it on the other', async () => {
  const [upstreamPort, metricsPort] = [await freePort(), await freePort()];
  const dir = tempDir('candor-circuit-shared-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: circuit-shared
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${upstreamPort}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 2, open_time: 1s, half_open_requests: 1 }
`,
  );
  const serve = await startServe(config, 2);
  const base = `http://127.0.0.1:${serve.port}`;
  let upstream: http.Server | undefined;
  try {
    // Nothing listens upstream: refused until some worker's circuit opens, which tells the other.
    await until('open on every worker', async () => {
      await request(base, { path: '/down' });
      return (await circuit(metricsPort, 'open')) === 1;
    });

    upstream = http.createServer((_req, res) => res.end('back\n'));
    await new Promise<void>((resolve) => upstream?.listen(upstreamPort, '127.0.0.1', resolve));
    // Past open_time the next request a worker gets is its probe; the first to succeed closes
    // that worker's circuit, and the news closes the other's, which has sent no probe.
    await until('a probe answered', async () => (await request(base, { path: '/probe' })).status === 200);
    await until('closed on every worker', async () => (await circuit(metricsPort, 'closed')) === 1);
    assert.equal(await circuit(metricsPort, 'open'), 0);
    assert.equal(await circuit(metricsPort, 'half_open'), 0);
    const probes = serve.lines.filter((l) => l.msg === 'request' && l.path === '/probe' && l.status === 200);
    assert.equal(probes.length, 1, 'one probe closed the circuit of both workers');
    // Each opening logged and counted by the worker that made it alone (the other, told, says
    // nothing; both may have opened it on their own before the news came): as many lines as counts.
    const opened = serve.lines.filter((l) => l.msg === 'circuit opened');
    assert.ok(opened.length >= 1);
    const opens = sampleValue(samples((await scrape(metricsPort)).text), 'candor_circuit_opens_total', {
      upstream: 'app',
    });
    assert.equal(opens, opened.length);
    assert.equal(serve.lines.filter((l) => l.msg === 'circuit closed').length, 1, 'closed by the one probe');
  } finally {
    await serve.stop();
    if (upstream) {
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream?.close(() => resolve()));
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test("one worker's failed half-open probe opens the circuit again on the other, which sends no probe of its own", async () => {
  const [upstreamPort, metricsPort] = [await freePort(), await freePort()];
  const dir = tempDir('candor-circuit-reopened-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: circuit-reopened
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${upstreamPort}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 2, open_time: 3s, half_open_requests: 1 }
`,
  );
  const serve = await startServe(config, 2);
  const base = `http://127.0.0.1:${serve.port}`;
  // One kept-alive connection: every request on it goes to the same worker.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const onOne = (path: string) =>
    new Promise<number>((resolve, reject) => {
      http
        .get(`${base}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
  try {
    // Nothing listens upstream: two refusals open that worker's circuit, and the news the other's.
    for (const path of ['/a', '/b']) assert.equal(await onOne(path), 502);
    await until('open on every worker', async () => (await circuit(metricsPort, 'open')) === 1);
    // Both read half-open once the open time is over; no request has come to either since.
    await until('half-open on every worker', async () => (await circuit(metricsPort, 'half_open')) === 1);
    assert.equal(await onOne('/probe'), 502, 'the probe met the refusal');
    // The other worker took the news: open again for the time the failed probe set, not half-open.
    await until('open again on every worker', async () => (await circuit(metricsPort, 'open')) === 1);
    for (let i = 0; i < 10; i++) {
      const answer = await request(base, { path: `/fresh${i}` });
      assert.equal(
        answer.status,
        503,
        `/fresh${i} went as a second probe: ${answer.headers['proxy-status']}`,
      );
    }
    const opened = serve.lines.filter((l) => l.msg === 'circuit opened');
    assert.deepEqual(
      opened.map((l) => l.by),
      ['failures', 'probe'],
      'one line for the opening and one for the failed probe',
    );
  } finally {
    agent.destroy();
    await serve.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
