/**
 * A client's trace context as hostile clients send it, with tracing on: what the upstream, the
 * auth service and the collector are told. W3C Trace Context: a traceparent the gateway cannot
 * read (version ff, uppercase hex, a zero id, two of them) starts a trace of its own; a later
 * version's is read as version 00 reads it; the flags go on as version 00 defines them, Level 2's
 * random flag included (what the gateway sends with tracing off: traceparent.ts); a tracestate
 * keeps its order, its leftmost member the one a vendor added last (§3.3.1).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { KIND, startCollector } from './collector.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

/** A gateway whose route /app has a forward-auth service, tracing to a collector; what each was told of `sent`. */
async function traced(sent: ReadonlyArray<Record<string, string | string[]>>) {
  const collector = await startCollector();
  const service = await startAuthService((_req, res) => res.writeHead(200).end());
  const { gw, echo, close } = await startAuthStage(
    (app) => `${forwardAuthConfig(app, `{ url: "${service.url}" }`)}tracing:
  otlp_endpoint: ${collector.endpoint}
`,
  );
  try {
    for (const headers of sent) assert.equal((await request(gw.url, { path: '/app', headers })).status, 200);
  } finally {
    await close(service);
    await collector.close();
  }
  return { upstream: echo.received.map((r) => r.headers), auth: service.asked, spans: collector.spans };
}

test('with tracing on, the random flag goes on to the upstream and the auth service; a traceparent the gateway cannot read starts a trace', async () => {
  const { upstream, auth } = await traced([
    { traceparent: `00-${TRACE}-${PARENT}-03` },
    { traceparent: `cc-${TRACE}-${PARENT}-ff-more-fields` },
    { traceparent: `ff-${TRACE}-${PARENT}-01` },
    { traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01` },
    { traceparent: `00-${TRACE}-${'0'.repeat(16)}-01` },
    { traceparent: [`00-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01`] },
  ]);
  const told = (headers: Record<string, unknown>) => {
    const traceparent = String(headers.traceparent);
    return `${traceparent.slice(3, 35) === TRACE ? 'client' : 'new'}-${traceparent.slice(-2)}`;
  };
  const expected = ['client-03', 'client-03', 'new-01', 'new-01', 'new-01', 'new-01'];
  assert.deepEqual(upstream.map(told), expected);
  assert.deepEqual(auth.map(told), expected);
});

test("a tracestate of 40 members goes upstream as it came; the spans carry its first 32, in the client's order", async () => {
  const members = Array.from({ length: 40 }, (_, i) => `k${i}=v${i}`);
  const { upstream, spans } = await traced([
    { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: members.join(',') },
  ]);
  assert.equal(upstream[0].tracestate, members.join(','));
  const server = spans.find((s) => s.kind === KIND.server);
  assert.equal(server?.parentSpanId, PARENT);
  const calls = spans.filter((s) => s.kind === KIND.client && s.parentSpanId === server?.spanId);
  assert.equal(calls.length, 2, 'the auth call and the attempt');
  for (const span of [server, ...calls]) assert.equal(span?.traceState, members.slice(0, 32).join(','));
});
