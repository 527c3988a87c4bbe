/**
 * Active health checks against real upstreams: targets go out of rotation after `fall`
 * failed probes (each failure named as the taxonomy names it), come back after `rise`
 * successes through slow start, probes never overlap, and stopping leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startRefusing, startUnaccepting } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Target } from '../../../src/upstream/targets/upstream.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** Short enough for a fast suite; the timeout is generous so a loaded machine does not fail healthy targets. */
const CHECK = 'interval: 50ms, timeout: 1s, rise: 2, fall: 2';
const SHORT_TIMEOUT = 'interval: 50ms, timeout: 200ms, rise: 2, fall: 2';

/** One route to upstream `app` with these targets; passive ejection and retries off unless `extra` says. */
function config(urls: readonly string[], healthCheck: string, extra = ''): string {
  return `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
    health_check: { ${healthCheck} }
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
${extra}`;
}

function targetsOf(gw: TestGateway): readonly Target[] {
  const upstream = gw.gateway.runtime().upstreams.get('app');
  assert.ok(upstream);
  return upstream.targets;
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`still not ${what} after ${timeoutMs} ms`);
    await sleep(5);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const isHealthPath = (path: string) => path.startsWith('/health');

/** Requests of the data path (not probes) a server received. */
const dataRequests = (fault: Fault) => fault.received.filter((r) => !isHealthPath(r.path)).length;

/** A keep-alive upstream answering 200 everywhere except /health, whose status the test switches. */
async function startSwitchable(healthStatus: number): Promise<{ fault: Fault; set(status: number): void }> {
  let status = healthStatus;
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      const code = isHealthPath(req.path) ? status : 200;
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

/** Sends `n` GETs at once through the gateway; every one must succeed. */
async function burst(gw: TestGateway, n: number): Promise<void> {
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) => request(gw.url, { path: `/b${i}` })),
  );
  assert.deepEqual(
    responses.map((r) => r.status),
    responses.map(() => 200),
  );
}

test('a refusing target goes out of rotation after `fall` probes, named connection_refused', async () => {
  // Not a port the system picked and let go: another test file's listen(0) may be given it.
  const [alive, dead] = [await startEcho(), await startRefusing()];
  const gw = await startTestGateway(config([alive.url, dead.url], `path: /health, ${CHECK}`));
  try {
    const [up, down] = targetsOf(gw);
    await waitUntil('down', () => !down.checkedHealthy);
    const probe = down.lastProbe;
    assert.equal(probe?.ok, false);
    assert.equal(probe?.failure?.type, 'connection_refused');
    assert.equal(probe?.failure?.shape, 'unreachable');
    assert.match(probe?.failure?.details ?? '', /ECONNREFUSED/);
    assert.equal(down.lastFailure?.type, 'connection_refused');
    await waitUntil('probed', () => up.lastProbe !== undefined);
    assert.equal(up.checkedHealthy, true);
    assert.equal(up.lastProbe?.ok, true, JSON.stringify(up.lastProbe));
    assert.equal(up.lastProbe?.status, 200);

    const downLines = gw.logs.filter((l) => l.msg === 'target down');
    assert.equal(downLines.length, 1);
    assert.equal(downLines[0].level, 'warn');
    assert.equal(downLines[0].upstream, 'app');
    assert.equal(downLines[0].target, dead.url);
    assert.equal(downLines[0].error, 'connection_refused');
    assert.equal(downLines[0].shape, 'unreachable');
    assert.equal(downLines[0].consecutive, 2, 'exactly `fall` failures');

    // Retries and passive ejection are off: a request sent to the dead target would be a 502.
    await burst(gw, 20);
    assert.equal(dataRequests(alive), 20);
    await sleep(150);
    assert.equal(gw.logs.filter((l) => l.msg === 'target down').length, 1, 'logged once, not per probe');
  } finally {
    await gw.close();
    await alive.close();
    await dead.close();
  }
});

test('with every target failing its checks and panic off, the answer is 503 destination_unavailable', async () => {
  const dead = await startRefusing();
  const gw = await startTestGateway(
    config([dead.url], `path: /health, ${CHECK}`, '    panic_threshold: 0\n'),
  );
  try {
    await waitUntil('down', () => !targetsOf(gw)[0].checkedHealthy);
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 503);
    assert.match(String(res.headers['proxy-status']), /error=destination_unavailable/);
    assert.match(String(res.headers['proxy-status']), /1 failing health checks/);
    assert.equal(res.headers['retry-after'], '1');
  } finally {
    await gw.close();
    await dead.close();
  }
});

test('with every target out through its checks, Retry-After is the time until the next probe (due an interval after the last ended), not the whole interval', async () => {
  const dead = await startRefusing();
  const gw = await startTestGateway(
    config(
      [dead.url],
      'path: /health, interval: 20s, timeout: 1s, rise: 1, fall: 1',
      '    panic_threshold: 0\n',
    ),
  );
  try {
    const [target] = targetsOf(gw);
    await waitUntil('down', () => !target.checkedHealthy);
    const probedAt = target.lastProbe?.at as number;
    // Some time after the probe: the answer counts down from it.
    await sleep(Math.max(0, probedAt + 1500 - performance.now()));
    const before = performance.now();
    const res = await request(gw.url, { path: '/x' });
    const after = performance.now();
    assert.equal(res.status, 503);
    const due = (at: number) => Math.ceil((probedAt + 20_000 - at) / 1000);
    const said = Number(res.headers['retry-after']);
    assert.ok(
      said <= due(before) && said >= due(after),
      `Retry-After ${said}, the probe due in ${due(after)}–${due(before)} s`,
    );
    assert.ok(said < 20, String(said));
  } finally {
    await gw.close();
    await dead.close();
  }
});

test('a target whose check answers 503 is down; after `rise` good answers it is back, through slow start', async () => {
  const echo = await startEcho();
  const flaky = await startSwitchable(503);
  const started = performance.now();
  const gw = await startTestGateway(config([echo.url, flaky.fault.url], `path: /health, ${CHECK}`));
  try {
    const [, target] = targetsOf(gw);
    assert.equal(target.checkedHealthy, true, 'in rotation until `fall` failures');
    await waitUntil('down', () => !target.checkedHealthy);
    const probe = target.lastProbe;
    assert.equal(probe?.status, 503);
    assert.deepEqual(probe?.failure, {
      type: 'unexpected_status',
      shape: 'status',
      details: 'health check answered 503, expected 200-399',
    });
    const down = gw.logs.find((l) => l.msg === 'target down');
    assert.equal(down?.error, 'unexpected_status');
    assert.equal(down?.status, 503);
    assert.equal(down?.consecutive, 2);

    // Out of rotation: the data path does not reach it, although it would answer 200.
    await burst(gw, 20);
    assert.equal(dataRequests(flaky.fault), 0);
    assert.equal(dataRequests(echo), 20);

    const healedAt = performance.now();
    flaky.set(200);
    await waitUntil('up', () => target.checkedHealthy);
    assert.ok(target.inRotationSince >= healedAt, 'inRotationSince is when it came back');
    assert.ok(target.inRotationSince > started);
    const up = gw.logs.filter((l) => l.msg === 'target up');
    assert.equal(up.length, 1);
    assert.equal(up[0].level, 'info');
    assert.equal(up[0].consecutive, 2, 'exactly `rise` successes');
    // Rounded as the access line rounds durations (issue 32, item 8), not 0.8030820000021777.
    const ms = up[0].ms as number;
    assert.equal(typeof ms, 'number');
    assert.equal(ms, Math.round(ms * 100) / 100, `ms rounded to two decimals (${ms})`);
    assert.equal(target.lastProbe?.ok, true);

    await burst(gw, 20);
    assert.ok(dataRequests(flaky.fault) > 0, 'back in rotation');
  } finally {
    await gw.close();
    await echo.close();
    await flaky.fault.close();
  }
});

test('a blackhole target fails by http_response_timeout, and its probes never overlap', async () => {
  let open = 0;
  let mostOpen = 0;
  const hole = await startRawFault((connection) => {
    open++;
    mostOpen = Math.max(mostOpen, open);
    // The kit keeps its half open after the peer's FIN: the probe's end is the FIN.
    void connection.record.ended.then(() => open--);
  });
  const started = performance.now();
  const gw = await startTestGateway(config([hole.url], `path: /health, ${SHORT_TIMEOUT}`));
  try {
    const [target] = targetsOf(gw);
    await waitUntil('down', () => !target.checkedHealthy);
    const probe = target.lastProbe;
    assert.equal(probe?.failure?.type, 'http_response_timeout');
    assert.equal(probe?.failure?.shape, 'slow');
    assert.ok((probe?.ms ?? 0) >= 195, `timed out after the timeout (${probe?.ms} ms)`);
    await sleep(800);
    const elapsed = performance.now() - started;
    // One probe per timeout-plus-interval at most; probes every interval would be 4 times as many.
    assert.ok(
      hole.connections <= elapsed / 200 + 1,
      `${hole.connections} probes in ${Math.round(elapsed)} ms`,
    );
    assert.ok(hole.connections >= 3);
    assert.equal(mostOpen, 1, 'never two probe connections at once');
  } finally {
    await gw.close();
    await hole.close();
  }
});

test('a target that never accepts fails by connection_timeout, at the probe timeout', async () => {
  const unaccepting = await startUnaccepting();
  const gw = await startTestGateway(config([unaccepting.url], `path: /health, ${SHORT_TIMEOUT}`));
  try {
    const [target] = targetsOf(gw);
    await waitUntil('down', () => !target.checkedHealthy);
    const probe = target.lastProbe;
    assert.equal(probe?.failure?.type, 'connection_timeout');
    assert.equal(probe?.failure?.shape, 'unreachable');
    assert.equal(probe?.failure?.details, 'not connected after 200 ms (health check timeout)');
  } finally {
    await gw.close();
    await unaccepting.close();
  }
});

test('the probe uses the configured method, path and Host', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(
    config([echo.url], `method: HEAD, path: /healthz, host: status.internal, ${CHECK}`),
  );
  try {
    const first = await echo.waitForRequest(1);
    assert.equal(first.method, 'HEAD');
    assert.equal(first.path, '/healthz');
    assert.equal(first.headers.host, 'status.internal');
    assert.equal(first.headers['user-agent'], 'candor-health-check');
    assert.equal(first.headers.connection, 'close');
    await waitUntil('probed', () => targetsOf(gw)[0].lastProbe !== undefined);
    assert.equal(targetsOf(gw)[0].lastProbe?.ok, true);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test("without a configured Host the probe sends the target's host:port, with GET by default", async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config([echo.url], CHECK));
  try {
    const first = await echo.waitForRequest(1);
    assert.equal(first.method, 'GET');
    assert.equal(first.path, '/');
    assert.equal(first.headers.host, `127.0.0.1:${echo.port}`);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('gateway.close() stops probing', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config([echo.url], `path: /health, ${CHECK}`));
  await echo.waitForRequest(3);
  await gw.close();
  const seen = echo.received.length;
  await sleep(300);
  assert.equal(echo.received.length, seen, 'no probe after close');
  await echo.close();
});

/** Runs a script in a child Node (TS as is) and resolves with its exit code and output, or rejects after `ms`. */
function runChild(script: string, ms: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '../../..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not exit within ${ms} ms; output: ${out}`));
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const childChecks = (url: string, then: string) => `
import { parseConfig } from './src/core/config/load.ts';
import { createUpstream } from './src/upstream/targets/upstream.ts';
import { startActiveChecks } from './src/upstream/health/active-checks.ts';
import { GatewayMetrics } from './src/observe/metrics/metrics.ts';
import pino from 'pino';
const config = parseConfig(${JSON.stringify(`listen: [{ address: "127.0.0.1:0" }]\n${config([url], `path: /health, ${CHECK}`)}`)}, '<child>', {});
const upstream = createUpstream(config.upstreams.app);
const checks = startActiveChecks(upstream, pino({ level: 'silent' }), new GatewayMetrics());
${then}
`;

test('running checks do not keep a process alive, and stop() leaves no handle behind', async () => {
  const echo = await startEcho();
  try {
    // Checks left running: the process still ends on its own (every timer unref'd).
    const left = await runChild(childChecks(echo.url, ''), 15_000);
    assert.equal(left.code, 0);
    // Stopped after a few probes: the pool and the probe connections are all gone.
    const before = echo.received.length;
    const stopped = await runChild(
      childChecks(
        echo.url,
        `const keep = setInterval(() => {}, 1000);
const seen = new Set();
while (seen.size < 3) {
  seen.add(upstream.targets[0].lastProbe);
  await new Promise((r) => setTimeout(r, 5));
}
await checks.stop();
await upstream.close();
clearInterval(keep);
console.log(JSON.stringify(upstream.targets[0].lastProbe));`,
      ),
      15_000,
    );
    assert.equal(stopped.code, 0);
    assert.equal(JSON.parse(stopped.out).ok, true);
    assert.ok(echo.received.length - before >= 2, `${echo.received.length - before} probes`);
  } finally {
    await echo.close();
  }
});

test('a target back in rotation takes traffic gradually over slow_start', async () => {
  const echo = await startEcho();
  const flaky = await startSwitchable(503);
  const gw = await startTestGateway(
    config([echo.url, flaky.fault.url], `path: /health, ${CHECK}`, '    slow_start: 2s\n'),
  );
  try {
    const [, target] = targetsOf(gw);
    await waitUntil('down', () => !target.checkedHealthy);
    flaky.set(200);
    await waitUntil('up', () => target.checkedHealthy);
    const upAt = target.inRotationSince;
    assert.ok(Number.isFinite(upAt), 'back in rotation at a known time');

    // Both upstreams run in this process: a request's arrival time is on the same clock as
    // inRotationSince, so the share is judged by when requests were picked, however slowly
    // a loaded machine sends them. Waves of requests until the early window is over.
    const EARLY = 400;
    while (performance.now() < upAt + EARLY) await burst(gw, 10);
    const inWindow = (fault: Fault, from: number, to: number) =>
      fault.received.filter((r) => !isHealthPath(r.path) && r.receivedAt >= from && r.receivedAt < to).length;
    const earlyB = inWindow(flaky.fault, upAt, upAt + EARLY);
    const earlyAll = earlyB + inWindow(echo, upAt, upAt + EARLY);
    assert.ok(earlyAll >= 5, `only ${earlyAll} requests in the first ${EARLY} ms`);
    assert.ok(earlyB < earlyAll * 0.35, `${earlyB}/${earlyAll} in the first ${EARLY} ms`);

    const windowEnd = upAt + 2000;
    await sleep(windowEnd + 50 - performance.now());
    await burst(gw, 40);
    const late = inWindow(flaky.fault, windowEnd, Number.POSITIVE_INFINITY);
    assert.equal(late + inWindow(echo, windowEnd, Number.POSITIVE_INFINITY), 40);
    assert.ok(late >= 16 && late <= 24, `${late}/40 after the window`);
  } finally {
    await gw.close();
    await echo.close();
    await flaky.fault.close();
  }
});
