/**
 * A request the drain's deadline cut while its upstream held it (sent, no answer yet): the log
 * line says `stage: sent`, as the upstream did get it. Its server span said
 * `candor.stage=not_sent`, the drain's failure made without the stage the exchange had reached,
 * so the trace told an operator the upstream never saw a request it was working on.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { KIND, STATUS, startCollector } from './collector.ts';

test("a request the drain's deadline cut after it was sent: its server span's stage is the log line's, sent", async () => {
  const collector = await startCollector();
  // An upstream that takes the request and never answers: only the drain's deadline ends it.
  let arrived: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const upstream = createServer(() => arrived());
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as AddressInfo;
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
drain: { delay: 0s, timeout: 300ms }
routes:
  - name: items
    match: { path: /items }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
    retries: { attempts: 1 }
tracing:
  otlp_endpoint: ${collector.endpoint}
`);
  let drained = false;
  try {
    const stuck = request(gw.url, { path: '/items/stuck', headers: { 'x-request-id': 'stuck' } }).catch(
      () => undefined,
    );
    await reached;
    drained = true;
    await gw.gateway.drain(); // exports what is queued
    await stuck;
  } finally {
    if (!drained) await gw.close();
    upstream.closeAllConnections();
    upstream.close();
    await collector.close();
  }
  const line = await gw.logFor('stuck');
  assert.deepEqual(
    { status: line.status, error: line.error, stage: line.stage },
    { status: 0, error: 'proxy_internal_response', stage: 'sent' },
  );
  const server = collector.spans.find(
    (s) => s.kind === KIND.server && s.attributes['candor.request_id'] === 'stuck',
  );
  assert.ok(server);
  assert.equal(server.status.code, STATUS.error);
  assert.equal(server.attributes['error.type'], 'proxy_internal_response');
  assert.equal(server.attributes['candor.stage'], 'sent');
});
