/**
 * A request the server's parser refused (a field name with a space, a head past
 * `limits.header_size`, a target past `limits.uri_length`, a head not whole in time) is the
 * client's as much as a routed one: its log line's trace id is the client's when its
 * `traceparent` was valid, and its server span is a child of the client's span with the HTTP
 * version and user agent its head named, as the log line's `protocol` has them. A refused
 * head's `traceparent` sent twice, or malformed, is no parent: a new trace.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, KIND, startCollector } from './collector.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const STATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';
const CONTEXT = `traceparent: 00-${TRACE}-${PARENT}-01\r\ntracestate: ${STATE}\r\nuser-agent: probe/1.2\r\n`;

test("a request the parser refused continues the client's trace, its span naming its HTTP version and user agent", async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const limited = await startTestGateway(
    `limits: { header_size: 2KiB, uri_length: 1KiB, header_timeout: 500ms }\n${gatewayYaml([echo.url], collector.endpoint)}`,
  );
  const heads: Record<string, [string, number]> = {
    'bad-name': [
      `GET /items HTTP/1.1\r\nhost: a\r\nx-request-id: bad-name\r\n${CONTEXT}bad name: x\r\n\r\n`,
      400,
    ],
    'too-large': [
      `GET /items HTTP/1.1\r\nhost: a\r\nx-request-id: too-large\r\n${CONTEXT}x-pad: ${'p'.repeat(3000)}\r\n\r\n`,
      431,
    ],
    'too-long': [
      `GET /items/${'a'.repeat(1100)} HTTP/1.1\r\nhost: a\r\nx-request-id: too-long\r\n${CONTEXT}\r\n`,
      414,
    ],
    'not-in-time': [`GET /items HTTP/1.1\r\nhost: a\r\nx-request-id: not-in-time\r\n${CONTEXT}`, 408],
    'http-1-0': [
      `GET /items HTTP/1.0\r\nhost: a\r\nx-request-id: http-1-0\r\n${CONTEXT}bad name: x\r\n\r\n`,
      400,
    ],
    twice: [
      `GET /items HTTP/1.1\r\nhost: a\r\nx-request-id: twice\r\n${CONTEXT}traceparent: 00-${TRACE}-${PARENT}-01\r\nbad name: x\r\n\r\n`,
      400,
    ],
  };
  const lines: Record<string, Record<string, unknown>> = {};
  try {
    for (const [id, [head, status]] of Object.entries(heads)) {
      assert.equal((await rawRequest(limited.port, head, 1500)).status, status, id);
      lines[id] = await limited.logFor(id);
    }
  } finally {
    await limited.close();
    await echo.close();
    await collector.close();
  }
  const server = (id: string) => {
    const span = collector.spans.find(
      (s) => s.kind === KIND.server && s.attributes['candor.request_id'] === id,
    );
    assert.ok(span, `a server span for ${id}`);
    return span;
  };
  for (const [id, version] of [
    ['bad-name', '1.1'],
    ['too-large', '1.1'],
    ['too-long', '1.1'],
    ['not-in-time', '1.1'],
    ['http-1-0', '1.0'],
  ] as const) {
    const span = server(id);
    assert.equal(lines[id].trace_id, TRACE, `${id}: the log line's trace id is the client's`);
    assert.deepEqual(
      {
        trace: span.traceId,
        parent: span.parentSpanId,
        state: span.traceState,
        version: span.attributes['network.protocol.version'],
        agent: span.attributes['user_agent.original'],
      },
      { trace: TRACE, parent: PARENT, state: STATE, version, agent: 'probe/1.2' },
      id,
    );
  }
  // Two traceparent lines are no one parent (a list): a new trace, as for a routed request.
  const twice = server('twice');
  assert.notEqual(twice.traceId, TRACE);
  assert.equal(twice.parentSpanId, undefined);
  assert.equal(lines.twice.trace_id, twice.traceId);
});
