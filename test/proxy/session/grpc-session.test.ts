/**
 * gRPC through the request session: the gateway's HTTP/2 server (its test fixture, until the
 * listener serves HTTP/2) hands each stream to the session of a real gateway's runtime. A
 * gateway-made failure is a Trailers-Only answer, `grpc-timeout` is the deadline when shorter
 * than the route's, the upstream's own grpc-status passes through, and the log line names the
 * protocol and the gRPC status. Over HTTP/1.1 the same request is answered as any other.
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { RequestSession } from '../../../src/proxy/session/request-session.ts';
import { startAuthService } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { startH2Fixture } from '../accept/h2/h2-fixture.ts';

interface H2Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders | undefined;
  body: string;
}

/** The gateway's session behind the HTTP/2 server, and one request through it. */
async function viaH2(gw: TestGateway, headers: Record<string, string>, body?: Buffer): Promise<H2Answer> {
  const fx = await startH2Fixture({
    handle: (exchange) =>
      RequestSession.request(gw.gateway.runtime(), { name: 'plain', protocol: 'http' }, exchange),
  });
  const client = http2.connect(`http://127.0.0.1:${fx.port}`);
  try {
    return await new Promise<H2Answer>((resolve, reject) => {
      const stream = client.request({ ':method': 'POST', ':path': '/pkg.Svc/Call', ...headers });
      const answer: H2Answer = { headers: {}, trailers: undefined, body: '' };
      stream.on('response', (h) => {
        answer.headers = h;
      });
      stream.on('trailers', (t) => {
        answer.trailers = t;
      });
      stream.setEncoding('latin1');
      stream.on('data', (c: string) => {
        answer.body += c;
      });
      stream.on('end', () => resolve(answer));
      stream.on('error', reject);
      stream.end(body);
    });
  } finally {
    client.close();
    await fx.close();
  }
}

/** A gRPC message frame: not compressed, its length, its bytes. */
const message = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

test('a gateway-made failure to a gRPC client is Trailers-Only: grpc-status 14, Proxy-Status, logged HTTP/2 with grpc_status', async () => {
  const refusing = await startRefusing();
  const gw = await startTestGateway(
    singleUpstream(refusing.url, { upstream: '    retries: { attempts: 1 }\n' }),
  );
  try {
    const r = await viaH2(gw, { 'content-type': 'application/grpc', te: 'trailers' }, message);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['grpc-status'], '14');
    assert.match(String(r.headers['grpc-message']), /^connection_refused: /);
    assert.match(String(r.headers['proxy-status']), /^edge-1; error=connection_refused; details="/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.trailers, undefined, 'one HEADERS frame: no trailers after it');
    assert.equal(r.body, '');
    const line = await gw.logFor(String(r.headers['x-request-id']));
    assert.equal(line.protocol, 'HTTP/2');
    assert.equal(line.grpc_status, 14);
    assert.equal(line.status, 502);
    assert.equal(line.error, 'connection_refused');
  } finally {
    await gw.close();
    await refusing.close();
  }
});

test('grpc-timeout shorter than the total timeout is the deadline: DEADLINE_EXCEEDED naming it', async () => {
  // Takes the request, never answers.
  const silent = await startRawFault(async (c) => {
    await c.nextRequest();
    await new Promise(() => {});
  });
  const gw = await startTestGateway(
    singleUpstream(silent.url, {
      upstream: '    timeouts: { response: 10s, total: 10s }\n    retries: { attempts: 1 }\n',
    }),
  );
  try {
    const r = await viaH2(gw, { 'content-type': 'application/grpc+proto', 'grpc-timeout': '150m' }, message);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['grpc-status'], '4');
    const line = await gw.logFor(String(r.headers['x-request-id']));
    // The client's own deadline (issue 31, item 1): it was http_response_timeout.
    assert.equal(line.error, 'client_deadline');
    assert.equal(line.details, "no response head within the client's grpc-timeout of 150 ms");
    assert.equal(line.grpc_status, 4);
  } finally {
    await gw.close();
    await silent.close();
  }
});

test("the upstream's own grpc-status passes through (h2c upstream), in its trailers and in a Trailers-Only head", async () => {
  const upstream = http2.createServer();
  upstream.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      if (headers[':path'] === '/pkg.Svc/Missing') {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5' },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '7', 'grpc-message': 'no' }));
      stream.end(message);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    protocol: h2c\n' }),
  );
  try {
    const streamed = await viaH2(gw, { 'content-type': 'application/grpc', te: 'trailers' }, message);
    assert.equal(streamed.headers[':status'], 200);
    assert.equal(streamed.headers['grpc-status'], undefined);
    assert.equal(streamed.trailers?.['grpc-status'], '7');
    assert.equal(streamed.trailers?.['grpc-message'], 'no');
    assert.equal(Buffer.from(streamed.body, 'latin1').compare(message), 0);
    const streamedLine = await gw.logFor(String(streamed.headers['x-request-id']));
    assert.equal(streamedLine.grpc_status, 7);
    assert.equal(streamedLine.error, undefined);

    const only = await viaH2(
      gw,
      { ':path': '/pkg.Svc/Missing', 'content-type': 'application/grpc', te: 'trailers' },
      message,
    );
    assert.equal(only.headers['grpc-status'], '5');
    assert.equal((await gw.logFor(String(only.headers['x-request-id']))).grpc_status, 5);
  } finally {
    await gw.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test("a grpc-status that is no gRPC code passes untouched, logged and counted as the UNKNOWN its client reads: the metric's labels stay bounded", async () => {
  // gRPC's libraries read a status outside its 17 codes as UNKNOWN (2); counted as sent, an
  // upstream writing a new number on each answer would add a metric series each time.
  const upstream = http2.createServer();
  upstream.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      const code = String(headers['x-code']);
      if (headers['x-in'] === 'head') {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': code },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': code }));
      stream.end(message);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    protocol: h2c\n' }),
  );
  try {
    for (const [code, read] of [
      ['16', 16],
      ['17', 2],
      ['1000001', 2],
      ['-1', 2],
      ['1e3', 2],
      ['abc', 2],
    ] as const)
      for (const where of ['head', 'trailers']) {
        const answer = await viaH2(
          gw,
          { 'content-type': 'application/grpc', te: 'trailers', 'x-code': code, 'x-in': where },
          message,
        );
        const sent = where === 'head' ? answer.headers : answer.trailers;
        assert.equal(sent?.['grpc-status'], code, 'passed on as the upstream wrote it');
        const line = await gw.logFor(String(answer.headers['x-request-id']));
        assert.equal(line.grpc_status, read, `${code} in the ${where}`);
      }
    const text = (await gw.gateway.metrics.exposition()).text;
    const labels = [...text.matchAll(/^candor_grpc_responses_total\{[^}]*grpc_status="([^"]*)"/gm)].map(
      (m) => m[1],
    );
    assert.deepEqual([...new Set(labels)].sort(), ['16', '2']);
  } finally {
    await gw.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test("an upstream's own non-200 (or 200 that is no gRPC answer) without grpc-status passes through untouched; the log says the status gRPC maps it to", async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(singleUpstream(echo.url));
  try {
    for (const [status, grpc] of [
      [503, 14],
      [404, 12],
      [401, 16],
      [500, 2],
      // A JSON API's 200 (the echo's): no gRPC status at all was logged, nor counted.
      [200, 2],
    ] as const) {
      const answer = await viaH2(gw, {
        ':path': `/pkg.Svc/Call?status=${status}`,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      assert.equal(answer.headers[':status'], status);
      assert.equal(answer.headers['grpc-status'], undefined, 'nothing added to the upstream’s answer');
      const line = await gw.logFor(String(answer.headers['x-request-id']));
      assert.equal(line.status, status);
      assert.equal(line.error, undefined);
      assert.equal(line.grpc_status, grpc, `${status} is read as gRPC status ${grpc}`);
    }
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a gRPC answer that ends without a grpc-status passes as it is; the log says the INTERNAL its client reads', async () => {
  const upstream = http2.createServer();
  upstream.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      // A message, then END_STREAM with no trailers: no status at all.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.end(message);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    protocol: h2c\n' }),
  );
  try {
    const answer = await viaH2(gw, { 'content-type': 'application/grpc', te: 'trailers' }, message);
    assert.equal(answer.headers[':status'], 200);
    assert.equal(answer.trailers?.['grpc-status'], undefined, 'nothing added to the upstream’s answer');
    assert.equal(Buffer.from(answer.body, 'latin1').compare(message), 0);
    const line = await gw.logFor(String(answer.headers['x-request-id']));
    assert.equal(line.error, undefined);
    assert.equal(line.grpc_status, 13);
  } finally {
    await gw.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

// gRPC's libraries read a 200 whose call ends on a HEADERS frame without grpc-status (trailers,
// or a head that ends the stream) as UNKNOWN, mapped from the HTTP status ("Received HTTP status
// code 200": grpc-js, grpc-go); the log said the INTERNAL of an answer ended by its body.
test('a gRPC answer whose trailers (or Trailers-Only head) carry no grpc-status passes as it is; the log says the UNKNOWN its client reads', async () => {
  const upstream = http2.createServer();
  upstream.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      if (headers[':path'] === '/only') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-served-by': 'a' }));
      stream.end(message);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const gw = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, { upstream: '    protocol: h2c\n' }),
  );
  try {
    const trailed = await viaH2(gw, { 'content-type': 'application/grpc', te: 'trailers' }, message);
    assert.equal(trailed.trailers?.['x-served-by'], 'a');
    assert.equal(trailed.trailers?.['grpc-status'], undefined, 'nothing added to the upstream’s answer');
    const only = await viaH2(gw, { 'content-type': 'application/grpc', te: 'trailers', ':path': '/only' });
    assert.equal(only.headers['grpc-status'], undefined);
    for (const answer of [trailed, only]) {
      const line = await gw.logFor(String(answer.headers['x-request-id']));
      assert.equal(line.error, undefined);
      assert.equal(line.grpc_status, 2);
    }
  } finally {
    await gw.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('over HTTP/1.1 a gRPC content-type is answered as any request: 502, logged HTTP/1.1, no grpc_status', async () => {
  const refusing = await startRefusing();
  const gw = await startTestGateway(
    singleUpstream(refusing.url, { upstream: '    retries: { attempts: 1 }\n' }),
  );
  try {
    const r = await request(gw.url, {
      path: '/pkg.Svc/Call',
      method: 'POST',
      headers: { 'content-type': 'application/grpc' },
      body: message,
    });
    assert.equal(r.status, 502);
    const line = await gw.accessLine();
    assert.equal(line.protocol, 'HTTP/1.1');
    assert.equal(line.grpc_status, undefined);
  } finally {
    await gw.close();
    await refusing.close();
  }
});

test("a forward-auth service's refusal to a gRPC client is the gateway's Trailers-Only answer: a redirect or 401 UNAUTHENTICATED, a 403 PERMISSION_DENIED", async () => {
  const service = await startAuthService((req, res) => {
    if (req.headers.authorization === 'Bearer readonly') return res.writeHead(403).end('no');
    res.writeHead(302, { location: '/login' }).end('to the login');
  });
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: rpc
    match: { path: / }
    upstream: app
    auth: { forward: { url: "${service.url}" } }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const grpc = { 'content-type': 'application/grpc', te: 'trailers' };
    const login = await viaH2(gw, grpc, message);
    assert.equal(login.headers[':status'], 200);
    assert.equal(login.headers['grpc-status'], '16');
    assert.equal(login.headers.location, undefined, 'a gRPC client follows no redirect');
    const line = await gw.logFor(String(login.headers['x-request-id']));
    assert.equal(line.auth, 'denied: forward 302');
    assert.equal(line.grpc_status, 16);
    const no = await viaH2(gw, { ...grpc, authorization: 'Bearer readonly' }, message);
    assert.equal(no.headers['grpc-status'], '7');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
    await service.close();
  }
});

test("a gRPC call without the route's Basic credentials is UNAUTHENTICATED in a Trailers-Only answer that carries the 401's challenge; nothing reaches the upstream", async () => {
  const echo = await startEcho();
  const users = new URL('../../../docs/examples/users.htpasswd', import.meta.url).pathname;
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: rpc
    match: { path: / }
    upstream: app
    auth: { basic: { users_file: ${users}, realm: rpc } }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const answer = await viaH2(gw, { 'content-type': 'application/grpc', te: 'trailers' }, message);
    assert.equal(answer.headers[':status'], 200);
    assert.equal(answer.headers['grpc-status'], '16');
    assert.match(String(answer.headers['www-authenticate']), /^Basic realm="rpc"/);
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});
