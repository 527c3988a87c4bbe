/**
 * An upstream's Trailers-Only answer (one HEADERS frame with END_STREAM) whose grpc-status comes
 * twice, as its trailers' may (grpc-end-inside.test.ts): node:http2 joins the two for the client
 * ("5, 5", "0, 13"), which grpc-js reads as no code at all, while the log said the first. Lines that
 * agree reach the client as one; lines that disagree are garbage from the upstream, as such
 * trailers are: nothing has gone downstream yet, so the client gets the gateway's own Trailers-Only
 * UNAVAILABLE naming `http_protocol_error` and the values.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const identity = (value: Buffer) => value;

const SAID: Record<string, string[]> = {
  '/same.Svc/Call': ['5', '5'],
  '/apart.Svc/Call': ['0', '13'],
};

test("a Trailers-Only answer with grpc-status twice: alike, the client reads it once; not alike, the gateway's UNAVAILABLE http_protocol_error", async (t) => {
  const upstream = http2.createServer();
  upstream.on('stream', (stream, fields) => {
    stream.on('error', () => {});
    stream.resume();
    // node:http2 writes an array as one field line each.
    const head = {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': SAID[String(fields[':path'])],
    } as unknown as http2.OutgoingHttpHeaders;
    stream.respond(head, { endStream: true });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `routes:
  - { match: { path: / }, upstream: rpc }
upstreams:
  rpc:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const read = (path: string) =>
    new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        path,
        identity,
        identity,
        Buffer.from('x'),
        new grpc.Metadata(),
        { deadline: Date.now() + 5000 },
        (err) => resolve(err),
      ),
    );
  const line = (path: string) => gw.logs.find((l) => l.msg === 'request' && l.path === path);

  const same = await read('/same.Svc/Call');
  assert.equal(same?.code, grpc.status.NOT_FOUND, 'the one 5 the upstream said');
  await waitUntil('logged', () => line('/same.Svc/Call') !== undefined);
  assert.equal(line('/same.Svc/Call')?.grpc_status, grpc.status.NOT_FOUND);
  assert.equal(line('/same.Svc/Call')?.error, undefined);

  const apart = await read('/apart.Svc/Call');
  assert.equal(apart?.code, grpc.status.UNAVAILABLE, apart?.details);
  assert.match(String(apart?.details), /^http_protocol_error: .*grpc-status 2 times, not alike \(0, 13\)/);
  await waitUntil('logged', () => line('/apart.Svc/Call') !== undefined);
  assert.equal(line('/apart.Svc/Call')?.status, 502);
  assert.equal(line('/apart.Svc/Call')?.error, 'http_protocol_error');
  assert.equal(line('/apart.Svc/Call')?.grpc_status, grpc.status.UNAVAILABLE);
});
