/**
 * A client's HTTP/2 request past `limits.http2.max_header_fields` or `max_header_list_size`, on
 * a real gateway: each refusal the gateway can answer is answered as over HTTP/1.1 (431, its
 * Proxy-Status, one log line, counted in candor_responses_total) and reaches no upstream. What
 * node:http2 resets before any JS sees the request (a later request past the header list size
 * the client acknowledged) is pinned as the config reference says it.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { settle } from '../downstream-fixture.ts';
import { ask } from './h2-ask.ts';

/** `count` fields of a few bytes each: far inside the header list size, past the field count. */
function manyFields(count: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i < count; i++) fields[`x-f${i}`] = 'v';
  return fields;
}

const FIELDS_DETAILS = 'more than 16 header fields (limits.http2.max_header_fields)';

describe('HTTP/2 header limits on a real gateway', () => {
  let echo: Fault;
  let gw: TestGateway;
  before(async () => {
    echo = await startEcho();
    gw = await startTestGateway(
      `name: edge-1
limits: { http2: { max_header_fields: 16, max_header_list_size: 2KiB } }
routes: [{ upstream: app }]
upstreams: { app: { targets: [{ url: "${echo.url}" }] } }
`,
      {},
      'http2: true',
    );
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  // node:http2 reset it (ENHANCE_YOUR_CALM, its maxHeaderListPairs) before any JS saw it: no
  // answer, no log line, nothing counted.
  test('more header fields than max_header_fields: 431 as over HTTP/1.1, logged, counted, the connection serves on', async () => {
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      const answer = await ask(session, {
        ':path': '/many',
        'x-request-id': 'h2-many-fields',
        accept: 'application/json',
        ...manyFields(20),
      });
      assert.equal(answer.rstCode, 0, 'answered, never reset');
      assert.equal(answer.headers[':status'], 431);
      assert.equal(
        answer.headers['proxy-status'],
        `edge-1; error=http_request_error; details="${FIELDS_DETAILS}"`,
      );
      assert.equal(JSON.parse(answer.body).status, 431);
      const line = await gw.logFor('h2-many-fields');
      assert.equal(line.status, 431);
      assert.equal(line.error, 'http_request_error');
      assert.equal(line.details, FIELDS_DETAILS);
      assert.equal(line.protocol, 'HTTP/2');
      assert.equal(typeof line.client, 'string');
      const exposition = await gw.gateway.metrics.registry.metrics();
      assert.match(exposition, /candor_responses_total\{[^}]*code="431"[^}]*\} 1\n/);
      // Exactly the limit passes (pseudo-fields counted: 4 of them, the id, 11 more).
      const fits = await ask(session, {
        ':path': '/fits',
        'x-request-id': 'h2-16-fields',
        ...manyFields(11),
      });
      assert.equal(fits.headers[':status'], 200);
      await settle();
      assert.deepEqual(
        echo.received.map((r) => r.path),
        ['/fits'],
        'the refused request never reached the upstream',
      );
    } finally {
      session.destroy();
    }
  });
});
