/**
 * A stale answer's background refresh is a request the gateway made itself: its server span says
 * so (`candor.background`, `candor.for_request_id`, as its log line does), with no `client.address`
 * of a client that never sent it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { KIND, startCollector } from './collector.ts';

test("a background refresh's server span names it the gateway's own, with no client address", async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-while-revalidate=60', 'ETag', '"v1"'],
    body: 'page v1',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(
    `${cachedPages(origin.url)}tracing:\n  otlp_endpoint: ${collector.endpoint}\n`,
  );
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= gw.close());
  t.after(close);
  await request(gw.url, { path: '/pages/t' });
  await request(gw.url, { path: '/pages/t', headers: { 'x-request-id': 'stale-one' } });
  const client = await gw.logFor('stale-one');
  await waitUntil('the refresh is logged', () => gw.logs.some((l) => l.background === 'refresh'), 15_000);
  const refresh = gw.logs.find((l) => l.background === 'refresh') as Record<string, unknown>;
  // Closing the gateway flushes its spans.
  await close();
  const server = (id: unknown) =>
    collector.spans.find((s) => s.kind === KIND.server && s.attributes['candor.request_id'] === id);
  const own = server(refresh.req_id);
  assert.ok(own, JSON.stringify(collector.spans.map((s) => s.attributes)));
  assert.equal(own.attributes['candor.background'], 'refresh');
  assert.equal(own.attributes['candor.for_request_id'], client.req_id);
  assert.equal(own.attributes['client.address'], undefined);
  assert.equal(own.attributes['network.peer.address'], undefined);
  // The client's own span is as it was.
  const clients = server(client.req_id);
  assert.equal(clients?.attributes['client.address'], '127.0.0.1');
  assert.equal(clients?.attributes['candor.background'], undefined);
});
