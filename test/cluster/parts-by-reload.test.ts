/**
 * The cluster primary loads its health checks and its gateway-wide rate limits with the first
 * config that uses them (server/cluster/gateway-wide.ts), not at start: a reload that brings them
 * in gets them as a start with them would, once for the gateway and in every worker.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('candor-parts-by-reload-');
const path = join(dir, 'candor.yaml');
let healthy: Fault;
let sick: Fault;
let serve: ServeProcess;

const isProbe = (r: { headers: Readonly<Record<string, string>> }) =>
  r.headers['user-agent'] === 'candor-health-check';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two targets, one failing its health path; `extra`: the health check and the limited route. */
function config(extra: boolean): string {
  return `name: parts-by-reload
listen:
  - address: 127.0.0.1:0
routes:
${
  extra
    ? `  - name: limited
    match: { path: /limited }
    upstream: app
    rate_limit: { rate: 1, burst: 2 }
`
    : ''
}  - name: open
    match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
      - url: ${healthy.url}
      - url: ${sick.url}
${extra ? '    health_check: { path: /health, interval: 200ms, timeout: 1s, rise: 1, fall: 1 }\n' : ''}    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`;
}

before(async () => {
  healthy = await startEcho();
  // 503 on its health path, 200 on everything else: only a health check tells it is sick.
  sick = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      const code = req.path.startsWith('/health') ? 503 : 200;
      await connection.write(`HTTP/1.1 ${code} X\r\nContent-Length: 2\r\n\r\nok`);
    }
  });
  writeFileSync(path, config(false));
  serve = await startServe(path, 2);
});

after(() => closeAll(serve, healthy, sick));

test('health checks and a rate limit a reload brings run as if the gateway had started with them', async () => {
  const burst = () =>
    Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        request(`http://127.0.0.1:${serve.port}`, {
          path: `/r${i}`,
          headers: { accept: 'application/json' },
        }),
      ),
    );
  // Before: no checks, so the sick target is in rotation and no probe reaches it.
  await burst();
  assert.ok(
    sick.received.some((r) => !isProbe(r)),
    'the sick target served requests',
  );
  assert.equal(sick.received.filter(isProbe).length, 0, 'no probe before the reload');

  writeFileSync(path, config(true));
  serve.child.kill('SIGHUP');
  await serve.waitForLines('config reloaded', 1, 15_000);
  // The primary loads its checks, probes, and tells every worker.
  await serve.waitForLines('target down', 1, 15_000);
  await sleep(100);
  const dataBefore = sick.received.filter((r) => !isProbe(r)).length;
  const answers = await burst();
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(8).fill(200),
  );
  assert.equal(sick.received.filter((r) => !isProbe(r)).length - dataBefore, 0, 'the sick target is out');
  assert.equal(
    serve.lines.filter((l) => l.msg === 'target down').length,
    1,
    'the transition is logged once, by the primary',
  );

  // The limit is the gateway's: its buckets are in the primary, loaded by this reload.
  let denied: { status: number; text: string }[] = [];
  for (let tries = 0; tries < 50 && denied.length === 0; tries++) {
    const limited = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(`http://127.0.0.1:${serve.port}`, {
          path: '/limited',
          headers: { accept: 'application/json' },
        }),
      ),
    );
    denied = limited.filter((a) => a.status === 429);
    if (denied.length === 0) await sleep(100);
  }
  assert.ok(denied.length > 0, 'requests over the rate were denied');
  for (const res of denied) assert.equal(JSON.parse(res.text).error, 'http_request_denied');
});
