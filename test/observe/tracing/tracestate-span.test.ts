/**
 * A continued trace's tracestate is part of its context (W3C Trace Context §3.3): the spans
 * the gateway exports under it carry it, as an OpenTelemetry SDK's own spans under an
 * extracted context do (a sampler's `ot=th:` threshold, read by span metrics, lives there),
 * and the upstream is told it as the client sent it. A tracestate that does not come with a
 * valid traceparent goes nowhere.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, KIND, startCollector } from './collector.ts';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const STATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

test("a continued trace's tracestate is on its exported spans and goes upstream; a restarted trace's is dropped", async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], collector.endpoint));
  try {
    for (const [traceparent, id] of [
      [PARENT, 'state-1'],
      ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', 'state-2'],
    ]) {
      const res = await request(gw.url, {
        path: '/items',
        headers: { traceparent, tracestate: STATE, 'x-request-id': id },
      });
      assert.equal(res.status, 200);
      await gw.logFor(id);
    }
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  assert.deepEqual(
    echo.received.map((r) => r.headers.tracestate),
    [STATE, undefined],
  );
  const of = (id: string) => {
    const server = collector.spans.find(
      (s) => s.kind === KIND.server && s.attributes['candor.request_id'] === id,
    );
    assert.ok(server, id);
    const client = collector.spans.find((s) => s.kind === KIND.client && s.parentSpanId === server.spanId);
    assert.ok(client, id);
    return [server.traceState, client.traceState];
  };
  assert.deepEqual(of('state-1'), [STATE, STATE]);
  assert.deepEqual(of('state-2'), [undefined, undefined]);
});
