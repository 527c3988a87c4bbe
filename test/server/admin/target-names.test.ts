/**
 * One target, one name on every surface: a target written with another spelling than its origin
 * (`HTTP://LocalHost:PORT/`, as a config may well write it; `https://web.internal:443`) is
 * `http://localhost:PORT` in the log line's `target`, the metrics' `target` label, the spans and
 * the `target ejected` line. GET /status (and the status page, which draws it) listed it only by
 * its `url` as written, so an operator who read a failing target off a log line or an alert found
 * no row of that name, and a script joining /status to the metrics by target matched nothing.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';
import { samples, scrape } from '../../observe/metrics/scrape.ts';

const TOKEN = 'target-names-token-0123456789abcdef';

test('GET /status names each target by its origin, as the log line, the metrics and the ejection line do', {
  timeout: 90_000,
}, async () => {
  const dir = tempDir('candor-target-names-');
  const refusing = await startRefusing();
  const [adminPort, metricsPort] = [await freePort(), await freePort()];
  const written = `HTTP://LocalHost:${refusing.port}/`;
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: names
listen:
  - address: 127.0.0.1:0
trust_forwarded_from: [127.0.0.1]
admin: { listen: "127.0.0.1:${adminPort}", token_env: NAMES_TOKEN }
metrics: { listen: "127.0.0.1:${metricsPort}" }
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${written}
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1 }
`,
  );
  const serve = await startServe(path, 1, { admin: true, env: { NAMES_TOKEN: TOKEN } });
  try {
    const url = `http://127.0.0.1:${serve.port}`;
    const res = await request(url, { path: '/', headers: { 'x-request-id': 'names-1' } });
    assert.equal(res.status, 502);
    await serve.waitForLines('target ejected', 1);
    const line = serve.lines.find((l) => l.req_id === 'names-1') ?? (await waitForLine(serve.lines));
    const ejected = serve.lines.find((l) => l.msg === 'target ejected');
    const metric = samples((await scrape(metricsPort)).text).find(
      (s) => s.name === 'candor_upstream_attempts_total' && s.labels.upstream === 'app',
    );
    const status = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
    const [target] = (status.body.upstreams as Record<string, { targets: Record<string, unknown>[] }>).app
      .targets;
    const origin = `http://localhost:${refusing.port}`;
    assert.deepEqual(
      {
        log: line.target,
        metrics: metric?.labels.target,
        ejected: ejected?.target,
        status: target.origin,
        written: target.url,
        state: target.ejected,
      },
      { log: origin, metrics: origin, ejected: origin, status: origin, written, state: true },
    );
  } finally {
    await serve.stop();
    await refusing.close();
  }
});

/** The request's line, which the gateway writes once its answer went: a short bound, not a timing. */
async function waitForLine(lines: Record<string, unknown>[]): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = lines.find((l) => l.req_id === 'names-1');
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no access line for names-1');
}
