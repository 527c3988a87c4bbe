/**
 * Health checks run once per gateway: under `candor serve --workers 2` the primary probes
 * and both workers apply its verdicts, so an upstream sees probes at the configured rate (not
 * once per worker) and a target failing its check leaves the rotation of every worker. A
 * reload that leaves too few targets passing puts every worker in panic at once.
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

const dir = tempDir('candor-health-once-');
let healthy: Fault;
let sick: { fault: Fault; set(status: number): void };
let serve: ServeProcess;

const isProbe = (r: { headers: Readonly<Record<string, string>> }) =>
  r.headers['user-agent'] === 'candor-health-check';

/** Answers 200 everywhere but on /health, whose status the test sets. */
async function startSwitchable(): Promise<{ fault: Fault; set(status: number): void }> {
  let status = 200;
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      const code = req.path.startsWith('/health') ? status : 200;
      await connection.write(`HTTP/1.1 ${code} X\r\nContent-Length: 2\r\n\r\nok`);
    }
  });
  return {
    fault,
    set: (next) => {
      status = next;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const path = join(dir, 'candor.yaml');
const configText = (urls: readonly string[]) => `name: health-once
listen:
  - address: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
    health_check: { path: /health, interval: 200ms, timeout: 1s, rise: 1, fall: 1 }
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`;

before(async () => {
  healthy = await startEcho();
  sick = await startSwitchable();
  writeFileSync(path, configText([healthy.url, sick.fault.url]));
  serve = await startServe(path, 2);
});

after(() => closeAll(serve, healthy, sick?.fault));

test('an upstream receives probes at the configured rate, not once per worker', async () => {
  await sleep(300);
  const from = healthy.received.filter(isProbe).length;
  await sleep(1000);
  const probes = healthy.received.filter(isProbe).length - from;
  // One loop: ~5 probes a second at 200 ms (fewer on a loaded machine); two loops would make ~10.
  assert.ok(probes >= 3 && probes <= 6, `${probes} probes in a second`);
});

test('a target failing its check is out of rotation in both workers', async () => {
  sick.set(503);
  await serve.waitForLines('target down', 1, 5000);
  // Every worker has the verdict once the primary logged it; the IPC message follows at once.
  await sleep(100);
  const dataBefore = sick.fault.received.filter((r) => !isProbe(r)).length;
  // Fresh connections: the cluster's primary hands them to the two workers in turn, so each
  // worker answers about half; without the shared verdict one of them would still pick the target.
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) => request(`http://127.0.0.1:${serve.port}`, { path: `/r${i}` })),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(12).fill(200),
  );
  assert.equal(
    sick.fault.received.filter((r) => !isProbe(r)).length - dataBefore,
    0,
    'no request went to the failing target',
  );
  assert.equal(
    serve.lines.filter((l) => l.msg === 'target down').length,
    1,
    'the transition is logged once, by the primary',
  );
});

test('a reload leaving only the failing target puts both workers in panic: its requests reach it', async () => {
  // (The target is down since the test before.) One of two passing is not below 50%; none of one is.
  writeFileSync(path, configText([sick.fault.url]));
  serve.child.kill('SIGHUP');
  await serve.waitForLines('config reloaded', 1, 15_000);
  await serve.waitForLines('upstream panic', 1, 5000);
  await sleep(100);
  const dataBefore = sick.fault.received.filter((r) => !isProbe(r)).length;
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) => request(`http://127.0.0.1:${serve.port}`, { path: `/p${i}` })),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(12).fill(200),
  );
  assert.equal(sick.fault.received.filter((r) => !isProbe(r)).length - dataBefore, 12);
  assert.equal(
    serve.lines.filter((l) => l.msg === 'upstream panic').length,
    1,
    'logged once, by the primary',
  );
});
