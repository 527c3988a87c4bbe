/**
 * An upstream's circuit opening is told once: a `warn` line naming the failure that tipped it, by
 * what (a run of failures, a failed probe) and until when, and `candor_circuit_opens_total`; the
 * probe that closes it logs `circuit closed` (docs/resilience.md, "The upstream's circuit").
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

test('a circuit opened by failures, opened again by a failed probe, closed by a good one: a line and a count each', async () => {
  const upstream = await startSwitchable();
  upstream.setMode('reset');
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 3, open_time: 200ms }
`);
  try {
    const circuit = gw.gateway.runtime().upstreams.get('app')?.circuit;
    const opens = async () =>
      sampleValue(
        samples((await scrape(gw.gateway.metricsPort() as number)).text),
        'candor_circuit_opens_total',
        {
          upstream: 'app',
        },
      );
    const lines = (msg: string) => gw.logs.filter((l) => l.msg === msg);
    for (const path of ['/a', '/b']) assert.equal((await request(gw.url, { path })).status, 502);
    assert.equal(lines('circuit opened').length, 0, 'two failures of three');
    assert.equal(await opens(), undefined);

    assert.equal((await request(gw.url, { path: '/c' })).status, 502);
    const [opened] = lines('circuit opened');
    assert.equal(opened?.level, 'warn');
    assert.equal(opened.upstream, 'app');
    assert.equal(opened.reason, 'connection_terminated');
    assert.equal(opened.by, 'failures');
    assert.equal(opened.for_ms, 200);
    assert.match(String(opened.until), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(await opens(), 1);
    const refused = await request(gw.url, { path: '/d' });
    assert.equal(refused.status, 503);
    assert.equal(lines('circuit opened').length, 1, 'a refusal of the open circuit opens nothing');

    // The probe after the open time meets the reset again: opened again, by the probe.
    await waitUntil('half-open', () => circuit?.stateAt(performance.now()) === 'half_open');
    assert.equal((await request(gw.url, { path: '/e' })).status, 502);
    assert.deepEqual(
      lines('circuit opened').map((l) => l.by),
      ['failures', 'probe'],
    );
    assert.equal(await opens(), 2);

    upstream.setMode('ok');
    await waitUntil('half-open again', () => circuit?.stateAt(performance.now()) === 'half_open');
    assert.equal((await request(gw.url, { path: '/f' })).status, 200);
    const closed = lines('circuit closed');
    assert.equal(closed.length, 1);
    assert.equal(closed[0].level, 'info');
    assert.equal(closed[0].upstream, 'app');
    assert.equal((await request(gw.url, { path: '/g' })).status, 200);
    assert.equal(lines('circuit closed').length, 1, 'an answer of a closed circuit closes nothing');
    assert.equal(await opens(), 2);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('two half-open probes failing: the circuit opened again once, one line and one count, not one each', async () => {
  // A target that holds each request until told, then cuts its connection.
  const held: Socket[] = [];
  const upstream = createServer((socket) => {
    socket.on('error', () => {});
    held.push(socket);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    for (const socket of held.splice(0)) socket.resetAndDestroy();
  };
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 1, open_time: 200ms, half_open_requests: 2 }
`);
  try {
    const circuit = gw.gateway.runtime().upstreams.get('app')?.circuit;
    const opens = async () =>
      sampleValue(
        samples((await scrape(gw.gateway.metricsPort() as number)).text),
        'candor_circuit_opens_total',
        {
          upstream: 'app',
        },
      );
    const lines = () => gw.logs.filter((l) => l.msg === 'circuit opened');
    const first = request(gw.url, { path: '/a' });
    await waitUntil('the first request held', () => held.length === 1);
    cut();
    assert.equal((await first).status, 502);
    assert.equal(await opens(), 1);

    await waitUntil('half-open', () => circuit?.stateAt(performance.now()) === 'half_open');
    const probes = [request(gw.url, { path: '/b' }), request(gw.url, { path: '/c' })];
    await waitUntil('both probes held', () => held.length === 2);
    cut();
    assert.deepEqual(
      (await Promise.all(probes)).map((got) => got.status),
      [502, 502],
    );
    assert.deepEqual(
      lines().map((l) => l.by),
      ['failures', 'probe'],
    );
    assert.equal(await opens(), 2);
  } finally {
    await gw.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
