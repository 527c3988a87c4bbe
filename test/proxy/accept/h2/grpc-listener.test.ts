/**
 * gRPC end to end: a @grpc/grpc-js client → a gateway listener with `http2: true` (h2c) →
 * a grpc-js server as an h2c upstream, for unary and server-streaming calls; and every
 * gateway-made failure as the gRPC status a client branches on, in a Trailers-Only answer:
 * UNAVAILABLE (14) for refused, reset, garbage, no target, circuit open and pool full;
 * DEADLINE_EXCEEDED (4) for timeouts, the client's own grpc-timeout included;
 * RESOURCE_EXHAUSTED (8) for the rate limit; UNIMPLEMENTED (12) for no route. grpc-message
 * names the RFC 9209 type, the details and the request id; Proxy-Status comes too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Fault } from '../../../../src/kits/fault-kit/fault.ts';
import { startSshBanner } from '../../../../src/kits/fault-kit/garbage-faults.ts';
import { h2Hang, h2ResetBeforeHead, startH2 } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { startBlackhole } from '../../../../src/kits/fault-kit/slow-faults.ts';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import { startRefusing } from '../../../../src/kits/fault-kit/unreachable-faults.ts';
import { type LogLine, startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';

const identity = (value: Buffer) => value;

const method = (
  path: string,
  responseStream: boolean,
  requestStream = false,
): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

const service: grpc.ServiceDefinition = {
  Get: method('/shop.Orders/Get', false),
  List: method('/shop.Orders/List', true),
  Chat: method('/shop.Orders/Chat', true, true),
  // The rate-limited route's method, served by the same server.
  Limited: method('/limited.Orders/Get', false),
  Refuse: method('/shop.Orders/Refuse', false),
};

/** The rich error model's details (google.rpc.Status, as bytes) a server sends in grpc-status-details-bin. */
const RICH_DETAILS = Buffer.from([0x08, 0x03, 0x12, 0x03, 0x62, 0x61, 0x64, 0xff, 0x00]);

let server: grpc.Server | undefined;
let gw: TestGateway | undefined;
let client: grpc.Client | undefined;
/** The grpc-js server's port (an h2c upstream). */
let serverPort = 0;
const faults: Record<string, Fault> = {};

before(async () => {
  server = new grpc.Server();
  server.addService(service, {
    Get(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      callback(null, Buffer.from(`order ${call.request.toString()}: shipped`));
    },
    Limited(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      callback(null, Buffer.from('ok'));
    },
    Refuse(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      const metadata = new grpc.Metadata();
      metadata.set('grpc-status-details-bin', RICH_DETAILS);
      callback({ code: grpc.status.INVALID_ARGUMENT, details: '100% wrong: café\nsecond line', metadata });
    },
    List(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      for (let i = 1; i <= 3; i++) call.write(Buffer.from(`item ${i}`));
      call.end();
    },
    Chat(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      call.on('data', (message: Buffer) => call.write(Buffer.from(`re: ${message.toString()}`)));
      call.on('end', () => call.end());
    },
  });
  serverPort = await new Promise<number>((resolve, reject) =>
    server?.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  const refused = await startRefusing();
  const hang = await startH2(h2Hang);
  const reset = await startH2(h2ResetBeforeHead);
  const garbage = await startSshBanner();
  const blackhole = await startBlackhole();
  const silent = await startH2(h2Hang);
  Object.assign(faults, { refused, hang, reset, garbage, blackhole, silent });
  const h2c = (url: string, more = '') =>
    `    protocol: h2c\n    targets: [{ url: "${url}" }]\n    retries: { attempts: 1 }\n${more}`;
  gw = await startTestGateway(
    `name: edge-1
routes:
  - { match: { path: /shop.Orders }, upstream: orders }
  - match: { path: /limited.Orders }
    upstream: orders
    rate_limit: { rate: 1, burst: 1, key: client }
  - { match: { path: /refused.Svc }, upstream: refused }
  - { match: { path: /slow.Svc }, upstream: slow }
  - { match: { path: /deadline.Svc }, upstream: deadline }
  - { match: { path: /reset.Svc }, upstream: reset }
  - { match: { path: /garbage.Svc }, upstream: garbage }
  - { match: { path: /notarget.Svc }, upstream: notarget }
  - { match: { path: /circuit.Svc }, upstream: circuit }
  - { match: { path: /pool.Svc }, upstream: pool }
upstreams:
  orders:
${h2c(`http://127.0.0.1:${serverPort}`)}
  refused:
${h2c(refused.url)}
  slow:
${h2c(hang.url, '    timeouts: { response: 300ms }\n')}
  deadline:
${h2c(silent.url, '    timeouts: { response: 10s, total: 10s }\n')}
  reset:
${h2c(reset.url)}
  garbage:
${h2c(garbage.url)}
  notarget:
${h2c(refused.url, '    outlier_detection: { consecutive_failures: 1 }\n    panic_threshold: 0\n    circuit_breaker: { consecutive_failures: 100 }\n')}
  circuit:
${h2c(refused.url, '    outlier_detection: { consecutive_failures: 100 }\n    circuit_breaker: { consecutive_failures: 1 }\n')}
  pool:
    targets: [{ url: "${blackhole.url}" }]
    retries: { attempts: 1 }
    timeouts: { response: 10s, total: 10s }
    pool: { max_connections: 1, queue_timeout: 200ms }
`,
    {},
    'http2: true',
  );
  client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await gw?.close();
  server?.forceShutdown();
  await Promise.all(Object.values(faults).map((f) => f.close()));
});

/** The access-log line that `match` picks, once written (bounded: 5 s). */
async function waitForLine(match: (line: LogLine) => boolean): Promise<LogLine> {
  const find = () => gw?.logs.find((l) => l.msg === 'request' && match(l));
  await waitUntil('logged', () => find() !== undefined);
  return find() as LogLine;
}

interface Outcome {
  value?: Buffer;
  error?: grpc.ServiceError;
}

/** One unary call, bounded by its deadline (2 s unless given). */
function unary(path: string, options: { deadlineMs?: number } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    client?.makeUnaryRequest(
      path,
      identity,
      identity,
      Buffer.from('7'),
      new grpc.Metadata(),
      { deadline: Date.now() + (options.deadlineMs ?? 2000) },
      (error, value) => resolve(error ? { error } : { value }),
    );
  });
}

/** Asserts a gateway-made gRPC failure: its code, its message (type, details, request id), its Proxy-Status, its log line. */
async function assertGatewayFailure(
  outcome: Outcome,
  code: grpc.status,
  type: string,
  details: RegExp,
): Promise<void> {
  const error = outcome.error;
  assert.ok(error, 'the call failed');
  assert.equal(error.code, code, `${error.code}: ${error.details}`);
  const id = String(error.metadata.get('x-request-id')[0]);
  const match = /^([a-z_]+): (.*) \(request id ([^)]+)\)$/.exec(error.details);
  assert.ok(match, `grpc-message "${error.details}" names the type, the details and the request id`);
  assert.equal(match[1], type);
  assert.match(match[2], details);
  assert.equal(match[3], id);
  assert.match(
    String(error.metadata.get('proxy-status')[0]),
    new RegExp(`^edge-1; error=${type}; details="`),
  );
  const line = await gw!.logFor(id);
  assert.equal(line.protocol, 'HTTP/2');
  assert.equal(line.grpc_status, code);
  assert.equal(line.error, type);
}

test('a unary call through the gateway: the answer and grpc-status 0', async () => {
  const r = await unary('/shop.Orders/Get');
  assert.equal(r.error, undefined);
  assert.equal(r.value?.toString(), 'order 7: shipped');
});

test("the upstream's own status passes untouched: its code, its percent-encoded message (a %, a non-ASCII byte, a newline) and its grpc-status-details-bin, no Proxy-Status", async () => {
  const r = await unary('/shop.Orders/Refuse');
  assert.ok(r.error, 'the call failed');
  assert.equal(r.error.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(r.error.details, '100% wrong: café\nsecond line');
  assert.deepEqual(r.error.metadata.get('grpc-status-details-bin'), [RICH_DETAILS]);
  assert.deepEqual(r.error.metadata.get('proxy-status'), [], 'not a gateway failure');
  const line = await gw!.logFor(String(r.error.metadata.get('x-request-id')[0]));
  assert.equal(line.grpc_status, grpc.status.INVALID_ARGUMENT);
  assert.equal(line.error, undefined);
});

test('a server-streaming call through the gateway: every message, then OK', async () => {
  const stream = client!.makeServerStreamRequest('/shop.Orders/List', identity, identity, Buffer.from('x'), {
    deadline: Date.now() + 2000,
  });
  const items: string[] = [];
  stream.on('data', (b: Buffer) => items.push(b.toString()));
  const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  stream.on('error', () => {});
  assert.equal(status.code, grpc.status.OK);
  assert.deepEqual(items, ['item 1', 'item 2', 'item 3']);
  // The upstream's own trailers, passed on: the gateway adds its Proxy-Status only to those it makes.
  assert.deepEqual(status.metadata.get('proxy-status'), []);
});

test('a bidirectional call whose client waits for each answer before its next message: every answer, then OK (the body streams, never read whole first)', async () => {
  const call = client!.makeBidiStreamRequest('/shop.Orders/Chat', identity, identity, {
    deadline: Date.now() + 3000,
  });
  const answers: string[] = [];
  call.on('data', (answer: Buffer) => {
    answers.push(answer.toString());
    if (answers.length < 3) call.write(Buffer.from(`question ${answers.length + 1}`));
    else call.end();
  });
  call.on('error', () => {});
  call.write(Buffer.from('question 1'));
  const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  assert.equal(status.code, grpc.status.OK, status.details);
  assert.deepEqual(answers, ['re: question 1', 're: question 2', 're: question 3']);
});

test('refused: UNAVAILABLE connection_refused', async () => {
  await assertGatewayFailure(
    await unary('/refused.Svc/Call'),
    grpc.status.UNAVAILABLE,
    'connection_refused',
    /^connection refused \(ECONNREFUSED\) after [0-9.]+ ms$/,
  );
});

test('a stream reset before the head: UNAVAILABLE connection_terminated', async () => {
  await assertGatewayFailure(
    await unary('/reset.Svc/Call'),
    grpc.status.UNAVAILABLE,
    'connection_terminated',
    /^stream reset by the upstream \(INTERNAL_ERROR\) before the response head after [0-9.]+ ms$/,
  );
});

test('garbage (an SSH banner, not HTTP/2): UNAVAILABLE http_protocol_error', async () => {
  await assertGatewayFailure(
    await unary('/garbage.Svc/Call'),
    grpc.status.UNAVAILABLE,
    'http_protocol_error',
    /^the upstream's answer is not valid HTTP\/2 \(Protocol error\) after [0-9.]+ ms$/,
  );
});

test('no target in rotation: UNAVAILABLE destination_unavailable', async () => {
  await unary('/notarget.Svc/Call');
  await assertGatewayFailure(
    await unary('/notarget.Svc/Call'),
    grpc.status.UNAVAILABLE,
    'destination_unavailable',
    /^no target of "notarget" is in rotation \(1 ejected after repeated failures\)$/,
  );
});

test('circuit open: UNAVAILABLE destination_unavailable naming the circuit', async () => {
  await unary('/circuit.Svc/Call');
  await assertGatewayFailure(
    await unary('/circuit.Svc/Call'),
    grpc.status.UNAVAILABLE,
    'destination_unavailable',
    /^the circuit of "circuit" is open after repeated failures \(the last: connection_refused, [0-9.]+ s ago\)$/,
  );
});

test('pool full: UNAVAILABLE connection_limit_reached', async () => {
  // The first call holds the only connection (the upstream never answers).
  const holding = unary('/pool.Svc/Hold', { deadlineMs: 1000 });
  await faults.blackhole.waitForConnection(1);
  await assertGatewayFailure(
    await unary('/pool.Svc/Call'),
    grpc.status.UNAVAILABLE,
    'connection_limit_reached',
    /^no connection to "pool" freed up within 200 ms$/,
  );
  assert.equal((await holding).error?.code, grpc.status.DEADLINE_EXCEEDED);
});

test("the route's response timeout: DEADLINE_EXCEEDED http_response_timeout", async () => {
  await assertGatewayFailure(
    await unary('/slow.Svc/Call'),
    grpc.status.DEADLINE_EXCEEDED,
    'http_response_timeout',
    /^no response head \(response timeout of 300 ms\) after [0-9]+ ms$/,
  );
});

test("the client's deadline reaches the gateway as grpc-timeout, and the client gets DEADLINE_EXCEEDED", async () => {
  const r = await unary('/deadline.Svc/Call', { deadlineMs: 300 });
  assert.equal(r.error?.code, grpc.status.DEADLINE_EXCEEDED);
  // Which side gives up first is a race (both wait the same time): the gateway's own answer
  // to a grpc-timeout is held by test/proxy/session/grpc-session.test.ts. Here: the deadline
  // went through, and the request ended (logged) long before the route's 10 s.
  const seen = await faults.silent.waitForRequest(1);
  assert.match(seen.headers['grpc-timeout'] ?? '', /^[0-9]{1,8}[HMSmun]$/);
  const line = await waitForLine((l) => l.path === '/deadline.Svc/Call');
  assert.equal(line.protocol, 'HTTP/2');
});

test('rate limit: RESOURCE_EXHAUSTED http_request_denied', async () => {
  assert.equal((await unary('/limited.Orders/Get')).error, undefined);
  await assertGatewayFailure(
    await unary('/limited.Orders/Get'),
    grpc.status.RESOURCE_EXHAUSTED,
    'http_request_denied',
    /^over the rate limit of 1 request per second \(burst 1\) for this client address$/,
  );
});

test('no route: UNIMPLEMENTED destination_not_found', async () => {
  // Regression: answered before its body was read (grpc-js sends the message after the
  // HEADERS), the stream never closed (node:http2 waits for its readable side too), so the
  // request was never logged and a drain waited on it to its deadline.
  await assertGatewayFailure(
    await unary('/other.Svc/Call'),
    grpc.status.UNIMPLEMENTED,
    'destination_not_found',
    /^no route for 127\.0\.0\.1\/other\.Svc\/Call$/,
  );
});

test('a bidirectional call whose messages come slower than limits.body_min_rate is not cut: its pace is its conversation', async () => {
  // Past body_read_timeout a streamed upload must average body_min_rate (1 KiB/s); a chat
  // sending a few bytes every 150 ms is far below it, for far longer than the 300 ms here.
  const slowChat = await startTestGateway(
    `name: edge-1
limits: { body_read_timeout: 300ms }
routes: [{ upstream: orders }]
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${serverPort}" }]
`,
    {},
    'http2: true',
  );
  const chatClient = new grpc.Client(`127.0.0.1:${slowChat.port}`, grpc.credentials.createInsecure());
  try {
    const call = chatClient.makeBidiStreamRequest('/shop.Orders/Chat', identity, identity, {
      deadline: Date.now() + 5000,
    });
    const answers: string[] = [];
    call.on('data', (answer: Buffer) => answers.push(answer.toString()));
    call.on('error', () => {});
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    for (let i = 1; i <= 5; i++) {
      call.write(Buffer.from(`line ${i}`));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    call.end();
    const status = await ended;
    assert.equal(status.code, grpc.status.OK, status.details);
    assert.deepEqual(answers, ['re: line 1', 're: line 2', 're: line 3', 're: line 4', 're: line 5']);
    const line = await slowChat.accessLine(1);
    assert.equal(line.error, undefined);
    assert.equal(line.grpc_status, 0);
  } finally {
    chatClient.close();
    await slowChat.close();
  }
});

test('over TLS: a grpc-js client with TLS credentials negotiates h2 by ALPN, and its call goes through', async () => {
  const certs = testCertificates();
  let tlsGateway: TestGateway | undefined;
  let tlsClient: grpc.Client | undefined;
  try {
    tlsGateway = await startTestGateway(
      `name: edge-1
routes: [{ upstream: orders }]
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${serverPort}" }]
`,
      {},
      `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n    http2: true`,
    );
    tlsClient = new grpc.Client(
      `localhost:${tlsGateway.port}`,
      grpc.credentials.createSsl(Buffer.from(certs.ca)),
    );
    const answer = await new Promise<Buffer>((resolve, reject) =>
      tlsClient?.makeUnaryRequest(
        '/shop.Orders/Get',
        identity,
        identity,
        Buffer.from('9'),
        new grpc.Metadata(),
        { deadline: Date.now() + 2000 },
        (error, value) => (error ? reject(error) : resolve(value as Buffer)),
      ),
    );
    assert.equal(answer.toString(), 'order 9: shipped');
    const line = await tlsGateway.accessLine(1);
    assert.equal(line.protocol, 'HTTP/2');
    assert.equal(line.grpc_status, 0);
  } finally {
    tlsClient?.close();
    await tlsGateway?.close();
  }
});
