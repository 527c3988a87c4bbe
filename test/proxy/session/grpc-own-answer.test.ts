/**
 * A route's own answer (a redirect: no upstream) to a gRPC client goes out as it is, and the
 * log and candor_grpc_responses_total say the gRPC status its client reads of it, as gRPC maps
 * an HTTP status (http-grpc-status-mapping.md: a 3xx is UNKNOWN), made by the gateway.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { ask } from '../accept/h2/h2-ask.ts';

test("a route's redirect to a gRPC client passes as it is; the log and the metric say the UNKNOWN its client reads", async () => {
  const gw = await startTestGateway(
    `routes:
  - { match: { path: /moved.Svc }, redirect: { location: "https://rpc.example.test/", status: 308 } }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
    {},
    'http2: true',
  );
  const client = http2.connect(gw.url);
  try {
    const answer = await ask(client, {
      ':method': 'POST',
      ':path': '/moved.Svc/Call',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    assert.equal(answer.headers[':status'], 308);
    assert.equal(answer.headers.location, 'https://rpc.example.test/');
    assert.equal(answer.headers['grpc-status'], undefined, 'the redirect goes out as the route wrote it');
    const line = await gw.logFor(String(answer.headers['x-request-id']));
    assert.equal(line.status, 308);
    assert.equal(line.grpc_status, 2);
    const text = (await gw.gateway.metrics.exposition()).text;
    assert.match(text, /candor_grpc_responses_total\{[^}]*grpc_status="2"[^}]*origin="gateway"[^}]*\} 1/);
  } finally {
    client.close();
    await gw.close();
  }
});
