/**
 * An HTTP/2 client whose SETTINGS_MAX_HEADER_LIST_SIZE is smaller than the upstream's response
 * head: the head is never sent (the client would reset the stream on reading it), the client
 * gets the gateway's 502 saying why (`Proxy-Status` error=http_response_header_section_size, a
 * gRPC client RESOURCE_EXHAUSTED), and the log says so (`client_header_list_size`), judging no
 * target. Before, the head went out, the client reset the stream (ENHANCE_YOUR_CALM), and the
 * log said 200. A client whose limit not even the gateway's answer fits has its stream cut, and
 * the log still names the failure.
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import { startRawFault } from '../../../../src/kits/fault-kit/raw-server.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** The upstream's big field: 3,000 bytes, past a client that takes 1,500. */
const BIG = 'b'.repeat(3_000);

/** An HTTP/1.1 upstream on keep-alive: `/big…` answers with BIG in a field, anything else small; `/big/cached` may be stored. */
function startUpstream() {
  return startRawFault(async (c) => {
    for (;;) {
      const request = await c.nextRequest();
      const big = request.path.startsWith('/big');
      const stored = request.path === '/big/cached' ? 'cache-control: max-age=60\r\n' : '';
      await c.write(
        `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n${stored}${big ? `x-big: ${BIG}\r\n` : ''}content-length: 2\r\n\r\nok`,
      );
    }
  });
}

interface Answer {
  headers: IncomingHttpHeaders;
  body: string;
  /** The stream's error code when it was reset (0: ended whole). */
  rstCode: number;
}

/** A node:http2 client that takes header lists of `maxHeaderListSize` at most, once the gateway knows it (its SETTINGS acknowledged). */
async function connect(url: string, maxHeaderListSize: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url, { settings: { maxHeaderListSize } });
  session.on('error', () => {});
  await new Promise((resolve) => session.once('localSettings', resolve));
  return session;
}

function get(session: http2.ClientHttp2Session, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ...headers }, { endStream: true });
    const answer: Answer = { headers: {}, body: '', rstCode: 0 };
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    stream.on('response', (h) => {
      answer.headers = h;
    });
    stream.setEncoding('latin1');
    stream.on('data', (chunk: string) => {
      answer.body += chunk;
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      answer.rstCode = stream.rstCode ?? 0;
      resolve(answer);
    });
  });
}

async function gateway(upstreamUrl: string) {
  return keep(
    startTestGateway(
      `name: edge-1
routes:
  - match: { path: /big/cached }
    upstream: app
    cache: {}
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstreamUrl}" }]
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 30s }
    circuit_breaker: { consecutive_failures: 1, open_time: 30s }
`,
      {},
      'http2: true',
    ),
  );
}

test("a head larger than the client's header list size: the gateway's 502 says so, the log too, and no target is judged", async () => {
  const upstream = await keep(startUpstream());
  const gw = await gateway(upstream.url);
  const session = await connect(gw.url, 1_500);
  try {
    for (const id of ['too-big-1', 'too-big-2', 'too-big-3']) {
      const html = id === 'too-big-2';
      const r = await get(session, {
        ':path': '/big',
        'x-request-id': id,
        accept: html ? 'text/html' : 'text/plain',
      });
      assert.equal(r.rstCode, 0, 'the stream ended whole, never reset');
      assert.equal(r.headers[':status'], 502);
      assert.equal(r.headers['x-big'], undefined);
      const proxyStatus = String(r.headers['proxy-status']);
      assert.match(
        proxyStatus,
        /^edge-1; error=http_response_header_section_size; details="the 200 response head is [0-9]+ bytes as HTTP\/2 counts a header list, more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of 1500"; next-hop="app"$/,
      );
      // The upstream answered well: the body never says it failed, nor draws it as the broken hop.
      assert.doesNotMatch(r.body, /upstream "app" failed/);
      assert.match(r.body, /could not pass on the answer of the upstream &?(quot;|")app/);
      assert.match(r.body, /SETTINGS_MAX_HEADER_LIST_SIZE/);
      if (html) assert.doesNotMatch(r.body, /class="hop bad">app</);
      const size = Number(/is ([0-9]+) bytes/.exec(proxyStatus)?.[1]);
      assert.ok(size > 3_000 && size < 3_500, `the head's size as counted: ${size}`);
      const line = await gw.logFor(id);
      assert.equal(line.status, 502);
      assert.equal(line.error, 'client_header_list_size');
      assert.equal(line.flag, 'CHL');
      assert.equal(line.stage, 'head_received');
      assert.equal(line.retry_skipped, 'not_retryable');
    }
    // The upstream answered every one, once: nothing retried, nothing judged against it.
    assert.equal(upstream.received.length, 3);
    const app = gw.gateway.runtime().upstreams.get('app');
    assert.equal(app?.targets[0].isEjected(performance.now()), false);
    assert.equal(app?.circuit.stateAt(performance.now()), 'closed');
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected'),
      [],
    );
    // A head that fits goes as before, on the same connection.
    const small = await get(session, { ':path': '/small', 'x-request-id': 'fits' });
    assert.equal(small.headers[':status'], 200);
    assert.equal(small.body, 'ok');
    assert.equal((await gw.logFor('fits')).status, 200);
  } finally {
    session.destroy();
  }
});

test('a gRPC client gets RESOURCE_EXHAUSTED in a Trailers-Only answer', async () => {
  const upstream = await keep(startUpstream());
  const gw = await gateway(upstream.url);
  const session = await connect(gw.url, 1_500);
  try {
    const r = await get(session, {
      ':path': '/big.Svc/Call',
      'content-type': 'application/grpc',
      te: 'trailers',
      'x-request-id': 'grpc-too-big',
    });
    assert.equal(r.rstCode, 0);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['grpc-status'], '8');
    assert.match(
      String(r.headers['grpc-message']),
      /^http_response_header_section_size \(client_header_list_size\): the 200 response head is /,
    );
    const line = await gw.logFor('grpc-too-big');
    assert.equal(line.error, 'client_header_list_size');
    assert.equal(line.grpc_status, 8);
  } finally {
    session.destroy();
  }
});

test("a client whose limit not even the gateway's answer fits: its stream is cut, the log names the failure, the gateway serves on", async () => {
  const upstream = await keep(startUpstream());
  const gw = await gateway(upstream.url);
  const session = await connect(gw.url, 150);
  try {
    const r = await get(session, { ':path': '/big', 'x-request-id': 'nothing-fits' });
    assert.equal(r.headers[':status'], undefined, 'no head reached the client');
    assert.equal(r.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    const line = await gw.logFor('nothing-fits');
    assert.equal(line.error, 'client_header_list_size');
    assert.equal(line.client_aborted, false);
    assert.equal(
      line.status,
      0,
      'the log says what the client got: no status line, as for any cut before a head',
    );
    // Neither does a small answer's head (its Date and Via alone come near): cut, and logged as such.
    const small = await get(session, { ':path': '/small', 'x-request-id': 'small-but-not-enough' });
    assert.equal(small.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    const smallLine = await gw.logFor('small-but-not-enough');
    assert.deepEqual([smallLine.error, smallLine.status], ['client_header_list_size', 0]);
    // A gRPC call's Trailers-Only answer (RESOURCE_EXHAUSTED) does not fit either: the reset is
    // what its client reads, INTERNAL, and the log's grpc_status says so (it said 8).
    const grpc = await get(session, {
      ':path': '/big.Svc/Call',
      'content-type': 'application/grpc',
      te: 'trailers',
      'x-request-id': 'grpc-nothing-fits',
    });
    assert.equal(grpc.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    const grpcLine = await gw.logFor('grpc-nothing-fits');
    assert.deepEqual(
      [grpcLine.error, grpcLine.grpc_status, grpcLine.status],
      ['client_header_list_size', 13, 0],
    );
  } finally {
    session.destroy();
  }
  // Another client is served as ever.
  const other = await connect(gw.url, 65_535);
  try {
    assert.equal((await get(other, { ':path': '/big' })).headers[':status'], 200);
  } finally {
    other.destroy();
  }
});

test("a stored answer whose head is larger than the client takes: the gateway's 502 instead, the answer kept for others", async () => {
  const upstream = await keep(startUpstream());
  const gw = await gateway(upstream.url);
  const roomy = await connect(gw.url, 65_535);
  const narrow = await connect(gw.url, 1_500);
  try {
    assert.equal(
      (await get(roomy, { ':path': '/big/cached', 'x-request-id': 'stored' })).headers[':status'],
      200,
    );
    const r = await get(narrow, { ':path': '/big/cached', 'x-request-id': 'hit-too-big' });
    assert.equal(r.rstCode, 0);
    assert.equal(r.headers[':status'], 502);
    assert.match(
      String(r.headers['proxy-status']),
      /^edge-1; error=http_response_header_section_size; details="the 200 response head is /,
    );
    const line = await gw.logFor('hit-too-big');
    assert.equal(line.status, 502);
    assert.equal(line.error, 'client_header_list_size');
    assert.equal(line.cache, 'hit');
    const again = await get(roomy, { ':path': '/big/cached', 'x-request-id': 'hit-fits' });
    assert.equal(again.headers[':status'], 200);
    assert.equal(again.headers['x-big'], BIG);
    assert.equal(upstream.received.length, 1, 'both hits came from the store');
  } finally {
    roomy.destroy();
    narrow.destroy();
  }
});

// The stream was whole on the gateway's side when the client reset it (a reset of a closed
// stream, which nghttp2 ignores): the log said 200 and nothing wrong.
test("a trailer section larger than the client's header list size: the stream is cut (never ended with trailers the client refuses), and the log says why", async () => {
  const upstream = await keep(
    startRawFault(async (c) => {
      for (;;) {
        const { path } = await c.nextRequest();
        const type = path === '/grpc' ? 'application/grpc' : 'text/plain';
        // A gRPC answer's body is one whole message (an empty one): a body that ends inside one is
        // cut for that first (grpc-end-inside.test.ts).
        const body = path === '/grpc' ? '5\r\n\0\0\0\0\0' : '2\r\nok';
        await c.write(
          `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\ntransfer-encoding: chunked\r\n\r\n${body}\r\n0\r\ngrpc-status: 0\r\nx-big: ${BIG}\r\n\r\n`,
        );
      }
    }),
  );
  const gw = await gateway(upstream.url);
  const session = await connect(gw.url, 1_500);
  try {
    // A gRPC client reads the reset as INTERNAL, whatever grpc-status the refused trailers held.
    const grpc = await get(session, {
      ':path': '/grpc',
      'x-request-id': 'grpc-trailers',
      'content-type': 'application/grpc',
    });
    assert.equal(grpc.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    const grpcLine = await gw.logFor('grpc-trailers');
    assert.deepEqual([grpcLine.error, grpcLine.grpc_status], ['client_header_list_size', 13]);
    const r = await get(session, { ':path': '/trailed', 'x-request-id': 'big-trailers', te: 'trailers' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR, 'cut by the gateway, not by the client');
    const line = await gw.logFor('big-trailers');
    assert.equal(line.status, 200);
    assert.equal(line.error, 'client_header_list_size');
    assert.match(
      String(line.details),
      /^the trailer section is [0-9]+ bytes as HTTP\/2 counts a header list, more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of 1500: the stream was cut$/,
    );
    assert.equal(line.client_aborted, false);
    const app = gw.gateway.runtime().upstreams.get('app');
    assert.equal(app?.targets[0].isEjected(performance.now()), false);
  } finally {
    session.close();
  }
});

// The gateway's own answer quotes what it met (a path no route claims, the head it could not pass
// on), so its Proxy-Status may not fit a client that takes less than its details: its stream was
// cut (INTERNAL_ERROR, the log's status 0) where the answer without them (errors.detail: minimal's,
// the type and the request id kept) fits.
test("the gateway's own answer that fits the client only without its details goes without them", async () => {
  const upstream = await keep(startUpstream());
  const gw = await gateway(upstream.url);
  const session = await connect(gw.url, 700);
  try {
    const r = await get(session, {
      ':path': '/big',
      'x-request-id': 'details-left-out',
      accept: 'text/plain',
    });
    assert.equal(r.rstCode, 0, 'the stream ended whole, never reset');
    assert.equal(r.headers[':status'], 502);
    assert.equal(r.headers['proxy-status'], 'edge-1; error=http_response_header_section_size');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
    assert.match(r.body, /request id: [0-9a-f-]{36}\n$/);
    const line = await gw.logFor('details-left-out');
    assert.deepEqual([line.status, line.error], [502, 'client_header_list_size']);
    assert.match(String(line.details), /more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of 700/);
  } finally {
    session.destroy();
  }
});
