/**
 * A request that never left a full pool's queue (its wait ran out: 503
 * connection_limit_reached; its client left: 499) sent nothing to the target: its log line says
 * `attempts: 0`, and its trace has no client span either, only its server span with the
 * failure. A client span was exported for it, an error naming the target, its address and
 * port, as though a request had reached a target that never got it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { KIND, STATUS, startCollector } from './collector.ts';

test("a request that never left a full pool's queue has no client span, only its server span with the failure", async () => {
  const collector = await startCollector();
  const slow = await startEcho();
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: items
    match: { path: /items }
    upstream: app
upstreams:
  app:
    pool: { max_connections: 1, max_pending: 2, queue_timeout: 300ms }
    retries: { attempts: 1 }
    targets:
      - url: ${slow.url}
tracing:
  otlp_endpoint: ${collector.endpoint}
`);
  try {
    const busy = request(gw.url, { path: '/items/busy?delay=1500', headers: { 'x-request-id': 'busy' } });
    await slow.waitForRequest(1);
    // One waits out its queue_timeout; another's client leaves while it waits.
    const expired = request(gw.url, { path: '/items/expired', headers: { 'x-request-id': 'expired' } });
    const leaving = connect(gw.port, '127.0.0.1');
    leaving.on('error', () => {});
    leaving.write('GET /items/leaving HTTP/1.1\r\nhost: a\r\nx-request-id: leaving\r\n\r\n');
    const upstream = gw.gateway.runtime().upstreams.get('app');
    while (upstream?.pending.count !== 2) await new Promise((resolve) => setTimeout(resolve, 10));
    leaving.destroy();
    assert.equal((await expired).status, 503);
    assert.equal((await busy).status, 200);
    for (const id of ['busy', 'expired', 'leaving']) await gw.logFor(id);
    assert.equal(slow.received.length, 1, 'only the busy request reached the upstream');
  } finally {
    await gw.close(); // exports what is queued
    await slow.close();
    await collector.close();
  }
  const spansOf = (id: string) => {
    const server = collector.spans.find(
      (s) => s.kind === KIND.server && s.attributes['candor.request_id'] === id,
    );
    assert.ok(server, id);
    const clients = collector.spans.filter((s) => s.kind === KIND.client && s.parentSpanId === server.spanId);
    return { server, clients };
  };
  const busy = spansOf('busy');
  assert.equal(busy.clients.length, 1, 'the request that went upstream has its attempt');
  assert.equal(busy.clients[0].attributes['http.response.status_code'], 200);
  const expired = spansOf('expired');
  assert.deepEqual(
    expired.clients.map((s) => s.attributes),
    [],
    'no client span: nothing went to the target',
  );
  assert.equal(expired.server.attributes['http.response.status_code'], 503);
  assert.equal(expired.server.attributes['error.type'], 'connection_limit_reached');
  assert.equal(expired.server.attributes['candor.stage'], 'not_sent');
  assert.equal(expired.server.status.code, STATUS.error);
  const leaving = spansOf('leaving');
  assert.deepEqual(
    leaving.clients.map((s) => s.attributes),
    [],
    'no client span: nothing went to the target',
  );
  assert.equal(leaving.server.attributes['error.type'], 'client_closed');
  assert.equal(leaving.server.attributes['http.response.status_code'], undefined, 'no answer was sent');
});
