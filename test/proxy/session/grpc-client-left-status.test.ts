/**
 * A gRPC call its client cancelled (RST_STREAM CANCEL) after the upstream's head but before its
 * end read no status of the upstream's: the log's grpc_status is absent and
 * candor_grpc_responses_total does not count it (docs/observability.md), whatever that head
 * said: a grpc-status in a head followed by a body (which no client reads), a 503 or a 200 that
 * is no gRPC answer (which gRPC maps to UNAVAILABLE, UNKNOWN at their end). They were logged and
 * counted as the head's status: a cancelled call as an OK.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** One gRPC message: the five-byte prefix, then the bytes. */
const message = (text: string) => {
  const payload = Buffer.from(text);
  const framed = Buffer.alloc(5 + payload.length);
  framed.writeUInt32BE(payload.length, 1);
  payload.copy(framed, 5);
  return framed;
};

const HEADS: Record<string, http2.OutgoingHttpHeaders> = {
  '/head.Svc/Status': { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' },
  '/down.Svc/Call': { ':status': 503, 'content-type': 'text/html' },
  '/json.Svc/Call': { ':status': 200, 'content-type': 'application/json' },
};

test("a gRPC call its client cancelled after the upstream's head: no grpc_status logged, none counted, whatever the head said", async (t) => {
  const cancelled: string[] = [];
  const upstream = http2.createServer();
  upstream.on('stream', (stream, fields) => {
    const path = String(fields[':path']);
    stream.on('error', () => {});
    stream.on('close', () => {
      if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) cancelled.push(path);
    });
    stream.resume();
    // A head and a first piece of body, then nothing: the call is under way when its client leaves.
    stream.respond(HEADS[path]);
    stream.write(path === '/head.Svc/Status' ? message('one') : '{');
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
  const client = http2.connect(gw.url);
  t.after(() => client.close());
  for (const path of Object.keys(HEADS)) {
    const stream = client.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    stream.end(message('x'));
    // The head and the first body bytes came: the client cancels the call.
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitUntil(`the upstream saw ${path} cancelled`, () => cancelled.includes(path));
    const line = () => gw.logs.find((l) => l.msg === 'request' && l.path === path);
    await waitUntil(`${path} logged`, () => line() !== undefined);
    assert.equal(line()?.error, 'client_closed', path);
    assert.equal(line()?.client_aborted, true, path);
    assert.equal(line()?.status, HEADS[path][':status'], path);
    assert.equal(line()?.grpc_status, undefined, `${path}: its client read no status`);
  }
  const text = (await gw.gateway.metrics.exposition()).text;
  assert.deepEqual(
    text.split('\n').filter((l) => l.startsWith('candor_grpc_responses_total{')),
    [],
    'a call its client left is not counted',
  );
});
