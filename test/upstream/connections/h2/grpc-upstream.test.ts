/**
 * A real gRPC server (@grpc/grpc-js) as an h2c upstream. A gRPC client needs HTTP/2 to the
 * gateway too, which it does not speak yet; so the client here is an HTTP/1.1 one sending the
 * gRPC framing itself. What is held: the gateway's HTTP/2 requests are ones a real gRPC server
 * takes, and the server's own grpc-status (in trailers, or in a Trailers-Only head) reaches the
 * client untouched.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { request } from '../../../helpers/http-client.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const identity = {
  serialize: (value: Buffer) => value,
  deserialize: (bytes: Buffer) => bytes,
};

const service: grpc.ServiceDefinition = {
  Get: {
    path: '/shop.Orders/Get',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity.serialize,
    requestDeserialize: identity.deserialize,
    responseSerialize: identity.serialize,
    responseDeserialize: identity.deserialize,
  },
};

/** One gRPC message: compressed flag, 4-byte length, payload (gRPC over HTTP/2, "Length-Prefixed-Message"). */
function frame(payload: string): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

const server = new grpc.Server();
const seen: grpc.Metadata[] = [];
server.addService(service, {
  Get(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
    seen.push(call.metadata);
    const order = call.request.toString();
    if (order === 'missing') return callback({ code: grpc.status.NOT_FOUND, details: 'no order "missing"' });
    if (order === 'detailed') {
      // Trailing metadata past the gateway's 32 KiB bound on a header section, after a message.
      const trailers = new grpc.Metadata();
      trailers.set('x-debug', 'd'.repeat(40 * 1024));
      return callback(null, Buffer.from('order detailed: shipped'), trailers);
    }
    callback(null, Buffer.from(`order ${order}: shipped`));
  },
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
    err ? reject(err) : resolve(bound),
  ),
);
const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: orders
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${port}" }]
`);
after(async () => {
  await gw.close();
  server.forceShutdown();
});

const call = (order: string, id: string) =>
  request(gw.url, {
    method: 'POST',
    path: '/shop.Orders/Get',
    headers: { 'content-type': 'application/grpc', te: 'trailers', 'x-request-id': id },
    body: frame(order),
  });

test('a unary call reaches a grpc-js server and its answer and grpc-status 0 come back', async () => {
  const res = await call('42', 'grpc-ok');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/grpc+proto');
  assert.deepEqual(res.body, frame('order 42: shipped'));
  assert.equal(res.trailers['grpc-status'], '0');
  // The client's id is not trusted (loopback is not in trust_forwarded_from): the upstream gets the gateway's.
  const line = await gw.logFor('grpc-ok');
  assert.equal(line.status, 200);
  assert.equal(line.client_req_id, 'grpc-ok');
  assert.equal(seen.at(-1)?.get('x-request-id')[0], line.req_id);
});

test('the server’s own NOT_FOUND passes through untouched, with its message', async () => {
  const res = await call('missing', 'grpc-404');
  assert.equal(res.status, 200);
  const status = res.trailers['grpc-status'] ?? res.headers['grpc-status'];
  const message = res.trailers['grpc-message'] ?? res.headers['grpc-message'];
  assert.equal(status, '5');
  assert.equal(decodeURIComponent(String(message)), 'no order "missing"');
  assert.equal(res.headers['proxy-status'], undefined, 'not a gateway failure');
});

test("trailers past the gateway's bound on a used session: the cut names node:http2's refusal beside an upstream's reset, never the upstream's reset alone", async () => {
  // node:http2 refuses the trailer section itself once the upstream acknowledged the gateway's
  // SETTINGS, resetting the stream ENHANCE_YOUR_CALM: the details said "stream reset by the
  // upstream (ENHANCE_YOUR_CALM)", a reset the upstream never sent.
  assert.equal((await call('1', 'grpc-before-detailed')).status, 200);
  const res = await call('detailed', 'grpc-detailed');
  assert.equal(res.status, 200);
  assert.equal(res.aborted, true, 'the transfer is cut, never ended as whole');
  const line = await gw.logFor('grpc-detailed');
  assert.equal(line.error, 'http_response_incomplete');
  assert.match(
    String(line.details),
    /^response body cut short: stream reset \(ENHANCE_YOUR_CALM\): the upstream's reset, or node:http2 refusing a trailer section past the gateway's bounds \(the header list size it announced, the session's memory\) after [0-9.]+ ms$/,
  );
});
