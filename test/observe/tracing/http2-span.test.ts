/**
 * An HTTP/2 client's request, traced: its trace continued, the server span saying HTTP/2 as the
 * conventions spell it (`network.protocol.version` "2"), the upstream told the attempt's span,
 * and one request id in the answer, the log line, the span and the upstream's request.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, KIND, startCollector } from './collector.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';

test('an HTTP/2 request: its trace continued, network.protocol.version 2, one request id everywhere', async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], collector.endpoint), {}, 'http2: true');
  let answeredId: unknown;
  let line: Record<string, unknown>;
  try {
    const session = http2.connect(gw.url);
    answeredId = await new Promise((resolve, reject) => {
      const stream = session.request({
        ':path': '/items/1',
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`,
      });
      stream.on('response', (head) => resolve(head['x-request-id']));
      stream.on('error', reject);
      stream.resume();
    });
    session.close();
    line = await gw.accessLine(1);
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const server = collector.spans.find((s) => s.kind === KIND.server);
  const client = collector.spans.find((s) => s.kind === KIND.client);
  assert.ok(server && client);
  assert.equal(line.protocol, 'HTTP/2');
  assert.equal(server.attributes['network.protocol.version'], '2');
  assert.deepEqual(
    [server.traceId, server.parentSpanId, client.traceId, client.parentSpanId],
    [TRACE_ID, CLIENT_SPAN_ID, TRACE_ID, server.spanId],
  );
  assert.equal(line.trace_id, TRACE_ID);
  const sent = Object.fromEntries(echo.received[0].rawHeaders.map(([name, value]) => [name, value]));
  assert.equal(sent.traceparent, `00-${TRACE_ID}-${client.spanId}-01`);
  assert.equal(typeof answeredId, 'string');
  assert.deepEqual(
    [line.req_id, server.attributes['candor.request_id'], sent['x-request-id']],
    [answeredId, answeredId, answeredId],
  );
});
