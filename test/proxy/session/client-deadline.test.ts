/**
 * A deadline the client chose says nothing about the target (issue 31, item 1): gRPC calls
 * over h2c with `grpc-timeout: 1m` (or `0m`, already past: never sent) to a healthy grpc-js
 * upstream that answers in 30 ms end as DEADLINE_EXCEEDED, logged `client_deadline` (or
 * `client_deadline_connecting`, when nothing was sent) naming the client's grpc-timeout,
 * and the target is never ejected nor the upstream's circuit opened by them: the next call
 * without a deadline is answered. Before, each was an http_response_timeout judged against the
 * target, and a few a second kept a healthy upstream ejected and its circuit open.
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { startUnaccepting } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const identity = (value: Buffer) => value;

/** A grpc-js server (an h2c upstream) whose one method answers after 30 ms. */
async function startSlowishService(): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService(
    {
      Get: {
        path: '/shop.Orders/Get',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Get(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
        setTimeout(() => callback(null, Buffer.from('shipped')), 30);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return {
    port,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** A gRPC message frame: not compressed, its length, its bytes. */
const message = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

interface Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders | undefined;
}

/** One unary gRPC call over h2c, with these extra headers; bounded in time. */
function call(session: http2.ClientHttp2Session, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/shop.Orders/Get',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const answer: Answer = { headers: {}, trailers: undefined };
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    stream.on('response', (h) => {
      answer.headers = h;
    });
    stream.on('trailers', (t) => {
      answer.trailers = t;
    });
    stream.resume();
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    stream.end(message);
  });
}

/**
 * A gateway (HTTP/2 listener) whose h2c upstream `name` at `url` one failure ejects and opens the
 * circuit of, and a session to it: what the client's own deadline must do neither to.
 */
async function strictGateway(name: string, url: string, extra = '') {
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: ${name}
upstreams:
  ${name}:
    protocol: h2c
    targets: [{ url: "${url}" }]
    retries: { attempts: 1 }
${extra}    outlier_detection: { consecutive_failures: 1, base_ejection_time: 30s }
    circuit_breaker: { consecutive_failures: 1, open_time: 30s }
`,
      {},
      'http2: true',
    ),
  );
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  return { gw, session };
}

test("twenty calls cut by the client's own grpc-timeout: DEADLINE_EXCEEDED, logged as the client's deadline, the target kept and the circuit closed", async () => {
  const service = await keep(startSlowishService());
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: orders
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${service.port}" }]
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 3, base_ejection_time: 30s }
    circuit_breaker: { consecutive_failures: 5, open_time: 30s }
`,
      {},
      'http2: true',
    ),
  );
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    for (let i = 0; i < 20; i++) {
      const timeout = i % 4 === 3 ? '0m' : '1m';
      const r = await call(session, { 'grpc-timeout': timeout, 'x-request-id': `deadline-${i}` });
      assert.equal(r.headers[':status'], 200, `call ${i}`);
      assert.equal(r.headers['grpc-status'], '4', `call ${i}: DEADLINE_EXCEEDED`);
      const line = await gw.logFor(`deadline-${i}`);
      assert.equal(line.status, 504);
      assert.equal(line.grpc_status, 4);
      // A zero is a deadline already past: nothing is sent. A millisecond may pass before the
      // attempt, or while the upstream connection is still being opened (the first call's):
      // nothing was sent then either, and the wire says the connect's type.
      const connecting = line.error === 'client_deadline_connecting';
      const [type, details] =
        timeout === '0m'
          ? [
              'connection_timeout',
              "the client's grpc-timeout of 0 ms had passed when the request arrived: nothing was sent",
            ]
          : connecting
            ? [
                'connection_timeout',
                line.attempts === 0
                  ? "the client's grpc-timeout of 1 ms passed before the first attempt: nothing was sent"
                  : "no connection made within the client's grpc-timeout of 1 ms",
              ]
            : ['http_response_timeout', "no response head within the client's grpc-timeout of 1 ms"];
      assert.equal(
        line.error,
        type === 'connection_timeout' ? 'client_deadline_connecting' : 'client_deadline',
      );
      assert.equal(line.details, details);
      // On the wire, the registered RFC 9209 type; the details say whose deadline it was.
      assert.equal(
        r.headers['proxy-status'],
        `edge-1; error=${type}; details="${details}"; next-hop="orders"`,
      );
      assert.match(String(r.headers['grpc-message']), new RegExp(`^${type} \\(${line.error}\\): `));
    }
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected'),
      [],
      'no ejection for the clients’ deadlines',
    );
    const upstream = gw.gateway.runtime().upstreams.get('orders');
    assert.ok(upstream);
    assert.equal(upstream.circuit.stateAt(performance.now()), 'closed');
    assert.equal(upstream.targets[0].isEjected(performance.now()), false);
    assert.equal(upstream.targets[0].consecutiveFailures, 0);

    // Every other client is served as before.
    const ok = await call(session, { 'x-request-id': 'no-deadline' });
    assert.equal(ok.headers[':status'], 200);
    assert.equal(ok.trailers?.['grpc-status'], '0');
    assert.equal(ok.headers['proxy-status'], undefined);
  } finally {
    session.destroy();
  }
});

test("the client's deadline passing mid-body cuts the stream, logged as the client's deadline, and ejects nothing", async () => {
  // Sends its head and one message, then nothing: a stream the client's deadline ends.
  const stalling = await keep(
    startH2((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(message);
    }),
  );
  const { gw, session } = await strictGateway('stalling', stalling.url);
  try {
    const r = await call(session, { 'grpc-timeout': '200m', 'x-request-id': 'mid-body' });
    assert.equal(r.headers[':status'], 200, "the upstream's head went downstream");
    // Cut between two messages: the stream ends with the client's DEADLINE_EXCEEDED in its
    // trailers (grpc-cut.ts), never with an OK that would read as whole.
    assert.equal(r.trailers?.['grpc-status'], '4', "the client's deadline, in trailers");
    const line = await gw.logFor('mid-body');
    assert.equal(line.error, 'client_deadline');
    assert.equal(line.stage, 'body_streaming');
    assert.equal(line.details, "client's grpc-timeout of 200 ms reached while streaming the body");
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected'),
      [],
    );
    const upstream = gw.gateway.runtime().upstreams.get('stalling');
    assert.equal(upstream?.circuit.stateAt(performance.now()), 'closed');
    assert.equal(upstream?.targets[0].isEjected(performance.now()), false);
  } finally {
    session.destroy();
  }
});

test("the client's deadline passing while the upstream connect is still under way: nothing was sent, so Proxy-Status says connection_timeout, and the target is not judged", async () => {
  const unaccepting = await keep(startUnaccepting());
  const { gw, session } = await strictGateway('orders', unaccepting.url, '    timeouts: { connect: 30s }\n');
  try {
    const r = await call(session, { 'grpc-timeout': '200m', 'x-request-id': 'connecting' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['grpc-status'], '4', 'DEADLINE_EXCEEDED');
    assert.equal(
      r.headers['proxy-status'],
      `edge-1; error=connection_timeout; details="no connection made within the client's grpc-timeout of 200 ms"; next-hop="orders"`,
    );
    const line = await gw.logFor('connecting');
    assert.equal(line.error, 'client_deadline_connecting');
    assert.equal(line.stage, 'not_sent');
    const upstream = gw.gateway.runtime().upstreams.get('orders');
    assert.equal(upstream?.circuit.stateAt(performance.now()), 'closed');
    assert.equal(upstream?.targets[0].isEjected(performance.now()), false);
  } finally {
    session.destroy();
  }
});

test('timeouts.total passing mid-body of a call whose client set a longer grpc-timeout: DEADLINE_EXCEEDED in trailers, and the streaming target is not judged', async () => {
  // A server-streaming call (a watch) whose upstream sends a message every 50 ms. The client's
  // grpc-timeout is longer than the upstream's total, so the call's deadline is the total, told
  // upstream: an upstream still streaming when it passes kept to the call as asked, not a stall.
  const streaming = await keep(
    startH2((stream) => {
      stream.resume();
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      const each = setInterval(() => {
        if (stream.destroyed || stream.closed) clearInterval(each);
        else stream.write(message);
      }, 50);
    }),
  );
  const { gw, session } = await strictGateway(
    'watch',
    streaming.url,
    '    timeouts: { response: 300ms, total: 400ms }\n',
  );
  try {
    const r = await call(session, { 'grpc-timeout': '10S', 'x-request-id': 'total-mid-body' });
    assert.equal(r.headers[':status'], 200, "the upstream's head went downstream");
    assert.equal(r.trailers?.['grpc-status'], '4', 'the call ends DEADLINE_EXCEEDED, never as if whole');
    const line = await gw.logFor('total-mid-body');
    assert.equal(line.error, 'connection_read_timeout');
    assert.equal(line.stage, 'body_streaming');
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected'),
      [],
    );
    const upstream = gw.gateway.runtime().upstreams.get('watch');
    assert.equal(upstream?.circuit.stateAt(performance.now()), 'closed');
    assert.equal(upstream?.targets[0].isEjected(performance.now()), false);
  } finally {
    session.destroy();
  }
});
