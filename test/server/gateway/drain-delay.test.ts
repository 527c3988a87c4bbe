/**
 * drain.delay, in process: the gateway reports itself draining at once (what /ready reads)
 * and keeps serving until the delay is over; then it stops accepting.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { connectRefused } from './candor-process.ts';

test('during drain.delay the gateway is draining yet still serves new connections; after it, it refuses them', async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { extra: 'drain: { delay: 600ms, timeout: 5s }' }),
  );
  try {
    assert.equal(gw.gateway.draining, false);
    const drained = gw.gateway.drain();
    assert.equal(gw.gateway.draining, true, 'draining from the moment the drain begins');
    const during = await request(gw.url, { path: '/during', headers: { 'x-request-id': 'during-delay' } });
    assert.equal(during.status, 200);
    assert.equal(during.text, 'ok');
    assert.equal((await gw.logFor('during-delay')).status, 200);
    assert.equal(
      gw.logs.some((l) => l.msg === 'draining: stopped accepting'),
      false,
      'still in the delay',
    );
    await drained;
    assert.equal(gw.gateway.draining, true);
    assert.equal(await connectRefused(gw.port), true, 'no longer accepting after the delay');
    const said = gw.logs.map((l) => l.msg);
    assert.deepEqual(
      said.filter((m) => m.startsWith('draining') || m === 'drained'),
      ['draining: not ready', 'draining: stopped accepting', 'drained'],
    );
    const delayLine = gw.logs.find((l) => l.msg === 'draining: not ready');
    assert.equal(delayLine?.delay_ms, 600);
    assert.equal(delayLine?.timeout_ms, 5000);
  } finally {
    await new Promise<void>((resolve) => {
      upstream.closeAllConnections();
      upstream.close(() => resolve());
    });
  }
});

test('the drain keeps the deadline of the config in force: a reload that shortens drain.timeout applies to the next drain', async () => {
  // An upstream that never answers: only the drain's deadline can end the request.
  const upstream = http.createServer(() => {});
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const yaml = (timeout: string) =>
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: '    timeouts: { response: 30s, total: 30s }\n',
      extra: `drain: { delay: 0s, timeout: ${timeout} }`,
    });
  const gw = await startTestGateway(yaml('20s'));
  let drained = false;
  try {
    const { parseConfig } = await import('../../../src/core/config/load.ts');
    // The listener is matched by its address as written: the same one, kept.
    await gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml('300ms')}`, '<reload>'));
    const stuck = request(gw.url, { path: '/stuck', headers: { 'x-request-id': 'stuck' } }).catch(
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    drained = true;
    await gw.gateway.drain();
    assert.ok(
      performance.now() - started < 5_000,
      'ended by the reloaded 300 ms deadline, not the first 20 s',
    );
    await stuck;
    assert.equal((await gw.logFor('stuck')).error, 'proxy_internal_response');
  } finally {
    if (!drained) await gw.close();
    upstream.close();
    upstream.closeAllConnections();
  }
});

test('a reload is refused while draining, and one that changes the metrics listener or tracing is refused at any time', async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const yaml = (extra: string) =>
    singleUpstream(`http://127.0.0.1:${port}`, { extra: `drain: { delay: 400ms, timeout: 2s }\n${extra}` });
  const gw = await startTestGateway(yaml(''));
  const { parseConfig } = await import('../../../src/core/config/load.ts');
  const { ConfigError } = await import('../../../src/core/config/config-error.ts');
  const withListen = (extra: string) =>
    parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml(extra)}`, '<r>');
  try {
    await assert.rejects(gw.gateway.reload(withListen('metrics: { listen: 127.0.0.1:0 }')), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems[0].path, 'metrics.listen');
      return true;
    });
    const drained = gw.gateway.drain();
    // The gateway's state, not a problem of the config: no ConfigError naming line 0 of the file.
    await assert.rejects(gw.gateway.reload(withListen('')), (err) => {
      assert.ok(!(err instanceof ConfigError));
      assert.equal((err as Error).name, 'GatewayDraining');
      assert.equal((err as Error).message, 'the gateway is draining: no reload (the running config stays)');
      return true;
    });
    await drained;
  } finally {
    upstream.close();
  }
});
