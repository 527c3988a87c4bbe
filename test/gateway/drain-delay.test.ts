/**
 * drain.delay, in process: the gateway reports itself draining at once (what /ready reads)
 * and keeps serving until the delay is over; then it stops accepting.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';
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
