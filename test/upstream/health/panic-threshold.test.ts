/**
 * The panic threshold against real upstreams that fail only their health check: below the
 * threshold the checks are ignored and requests reach every target; with panic off, the
 * same upstream answers 503. Entering and leaving panic are logged once each. A reload that
 * changes the targets or the threshold re-reads the panic state at once: it was re-read only
 * when a verdict changed, so a reload leaving one failing target stayed out of panic (503s)
 * and one setting panic_threshold: 0 stayed in it, until a check's verdict happened to change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import type { Upstream } from '../../../src/upstream/targets/upstream.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const CHECK = 'path: /health, interval: 50ms, timeout: 1s, rise: 2, fall: 2';

function config(urls: readonly string[], extra = ''): string {
  return `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
    health_check: { ${CHECK} }
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
${extra}`;
}

/** A keep-alive upstream answering 200 everywhere except /health, whose status the test switches. */
async function startHealthSwitch(status: number): Promise<{ fault: Fault; set(status: number): void }> {
  let health = status;
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      const code = req.path.startsWith('/health') ? health : 200;
      await connection.write(`HTTP/1.1 ${code} X\r\nContent-Length: 2\r\n\r\nok`);
    }
  });
  return {
    fault,
    set: (next) => {
      health = next;
    },
  };
}

const dataRequests = (fault: Fault) => fault.received.filter((r) => !r.path.startsWith('/health')).length;
const probes = (fault: Fault) => fault.received.filter((r) => r.path.startsWith('/health')).length;

function upstreamOf(gw: TestGateway): Upstream {
  const upstream = gw.gateway.runtime().upstreams.get('app');
  assert.ok(upstream);
  return upstream;
}

const linesOf = (gw: TestGateway, msg: string) => gw.logs.filter((l) => l.msg === msg);

test('every target failing its health check but serving: in panic, requests reach them all and get 200', async () => {
  const [a, b] = await Promise.all([startHealthSwitch(500), startHealthSwitch(500)]);
  const gw = await startTestGateway(config([a.fault.url, b.fault.url]));
  try {
    const upstream = upstreamOf(gw);
    assert.equal(upstream.panic.active, false, 'targets start in rotation');
    await waitUntil('in panic', () => upstream.targets.every((t) => !t.checkedHealthy));
    assert.equal(upstream.panic.active, true);
    assert.equal(upstream.panic.threshold, 50, 'on by default, at Envoy’s 50%');
    assert.ok(upstream.panic.since !== undefined);

    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(gw.url, { path: `/p${i}`, headers: { 'x-request-id': `panic-${i}` } }).then((r) => r.status),
      ),
    );
    assert.deepEqual(
      statuses,
      statuses.map(() => 200),
    );
    assert.equal(dataRequests(a.fault), 5, 'spread over every target');
    assert.equal(dataRequests(b.fault), 5);
    for (let i = 0; i < 10; i++) assert.equal((await gw.logFor(`panic-${i}`)).panic, true);

    // Logged once, however many probes fail after it.
    const probed = probes(a.fault) + probes(b.fault);
    await waitUntil('probed again', () => probes(a.fault) + probes(b.fault) >= probed + 4);
    const entered = linesOf(gw, 'upstream panic');
    assert.equal(entered.length, 1);
    assert.equal(entered[0].level, 'warn');
    assert.equal(entered[0].upstream, 'app');
    assert.equal(entered[0].passing, 0);
    assert.equal(entered[0].targets, 2);
    assert.equal(entered[0].panic_threshold, 50);

    // One target passing again is half of them: not below 50%, so panic is over and the
    // checks decide again.
    a.set(200);
    await waitUntil('out of panic', () => !upstream.panic.active);
    const over = linesOf(gw, 'upstream panic over');
    assert.equal(over.length, 1);
    assert.equal(over[0].level, 'info');
    assert.equal(over[0].passing, 1);
    assert.equal(upstream.panic.since, undefined);
    const before = dataRequests(b.fault);
    const res = await request(gw.url, { path: '/after', headers: { 'x-request-id': 'calm-1' } });
    assert.equal(res.status, 200);
    assert.equal(dataRequests(b.fault), before, 'the target failing its check is out of rotation again');
    assert.equal(Object.hasOwn(await gw.logFor('calm-1'), 'panic'), false);
    assert.equal(linesOf(gw, 'upstream panic').length, 1);
  } finally {
    await gw.close();
    await Promise.all([a.fault.close(), b.fault.close()]);
  }
});

test('with panic_threshold: 0 the same targets get no request: 503 destination_unavailable', async () => {
  const [a, b] = await Promise.all([startHealthSwitch(500), startHealthSwitch(500)]);
  const gw = await startTestGateway(config([a.fault.url, b.fault.url], '    panic_threshold: 0\n'));
  try {
    const upstream = upstreamOf(gw);
    await waitUntil('down', () => upstream.targets.every((t) => !t.checkedHealthy));
    const res = await request(gw.url, { path: '/x', headers: { 'x-request-id': 'nopanic-1' } });
    assert.equal(res.status, 503);
    assert.match(String(res.headers['proxy-status']), /error=destination_unavailable/);
    assert.match(String(res.headers['proxy-status']), /2 failing health checks/);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(upstream.panic.active, false);
    assert.equal(dataRequests(a.fault) + dataRequests(b.fault), 0);
    assert.equal(linesOf(gw, 'upstream panic').length, 0);
    assert.equal(Object.hasOwn(await gw.logFor('nopanic-1'), 'panic'), false);
  } finally {
    await gw.close();
    await Promise.all([a.fault.close(), b.fault.close()]);
  }
});

test('a reload re-reads panic at once: fewer targets passing enters it, panic_threshold: 0 leaves it', async () => {
  const [a, b] = await Promise.all([startHealthSwitch(200), startHealthSwitch(500)]);
  const gw = await startTestGateway(config([a.fault.url, b.fault.url]));
  const reload = (urls: readonly string[], extra = '') =>
    gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config(urls, extra)}`, '<test>', {}));
  try {
    await waitUntil('b down', () => upstreamOf(gw).targets[1].checkedHealthy === false);
    assert.equal(upstreamOf(gw).panic.active, false, 'one of two passing is not below 50%');

    // The passing target leaves the config: none of those left passes.
    await reload([b.fault.url]);
    assert.equal(upstreamOf(gw).panic.active, true);
    const res = await request(gw.url, { path: '/left', headers: { 'x-request-id': 'reload-panic-1' } });
    assert.equal(res.status, 200);
    assert.equal(dataRequests(b.fault), 1);
    assert.equal((await gw.logFor('reload-panic-1')).panic, true);
    const entered = linesOf(gw, 'upstream panic');
    assert.equal(entered.length, 1);
    assert.equal(entered[0].passing, 0);
    assert.equal(entered[0].targets, 1);

    // Panic turned off: the checks decide again, and they keep the failing target out.
    await reload([b.fault.url], '    panic_threshold: 0\n');
    assert.equal(upstreamOf(gw).panic.active, false);
    const off = await request(gw.url, { path: '/off', headers: { 'x-request-id': 'reload-panic-2' } });
    assert.equal(off.status, 503);
    assert.match(String(off.headers['proxy-status']), /1 failing health checks/);
    assert.equal(dataRequests(b.fault), 1);
    assert.equal(linesOf(gw, 'upstream panic over').length, 1);
  } finally {
    await gw.close();
    await Promise.all([a.fault.close(), b.fault.close()]);
  }
});
