/**
 * DESIGN.md "Downstream limits", slow clients: a head not finished within
 * limits.header_timeout, or a body that stops arriving for limits.body_idle_timeout, is a
 * 408 and a closed connection. A slow but moving body is not cut (the body is timed by
 * idleness, not by a whole-request deadline).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import {
  assertClientError,
  assertStillServes,
  assertUpstreamSawNothing,
  hasFinalResponse,
  parseRaw,
  RawClient,
  settle,
  startFixture,
} from './downstream-fixture.ts';

test('a head that stalls half-way is a 408 after header_timeout, then closed', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    'GET /slow HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\nX-Request-Id: late-1\r\nX-Half: val',
  );
  const started = performance.now();
  await client.untilClosed(3000);
  const waited = performance.now() - started;
  assert.ok(waited >= 400, `answered after ${waited} ms, before the 500 ms header_timeout`);
  // The head as far as it came names the request: its Accept negotiates the body, its id and
  // path are in the log line (the line cut short is not read).
  const res = await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    {
      status: 408,
      // The limit it passed is named, as a stalled body's is.
      details:
        /the request was not received in time: its head not whole within 500 ms \(limits\.header_timeout\)/,
      json: true,
      requestId: 'late-1',
    },
  );
  // RFC 9110 §15.5.9: the client may send it again; the request itself was not wrong. (The
  // body said "Retrying the same request will fail the same way: change the request.")
  const problem = JSON.parse(res.body);
  assert.equal(problem.retryable, true);
  assert.equal(
    problem.advice,
    'You may send the request again on a new connection, whole and without pauses: the gateway waits only so long for it.',
  );
  const line = await f.gw.logFor(res.headers['x-request-id']);
  assert.equal(line.method, 'GET');
  assert.equal(line.path, '/slow');
  // Its total counts from the head's first byte (docs: "from the request's arrival"), not from
  // the refusal: the wait the 408 is about is in it (it said some 2 ms). Loosely: the header
  // timeout runs from the accept, and a loaded machine reads the first byte late.
  assert.ok((line.total_ms as number) >= 100, `total_ms ${line.total_ms}: the head's wait is not counted`);
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

test('a client that ends its side inside a head gets a 400 it can still read, and one log line naming the request', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  // `printf 'GET … \r\nHost: a\r\n' | nc -N`: the last CRLF forgotten, the write side shut.
  client.socket.end('GET /cut HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\nX-Request-Id: cut-1\r\n');
  await client.untilClosed(3000);
  const res = await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    { status: 400, details: /ended the connection inside the request head/, json: true, requestId: 'cut-1' },
  );
  const line = await f.gw.logFor(res.headers['x-request-id']);
  assert.equal(line.path, '/cut');
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

test('a head dripped a byte at a time is still cut at header_timeout (a deadline, not idleness)', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  const head = `GET /drip HTTP/1.1\r\nHost: a\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`;
  let sent = 0;
  const drip = setInterval(() => {
    if (sent < head.length && !client.closed) client.write(head[sent++]);
  }, 50);
  t.after(() => clearInterval(drip));
  await client.untilClosed(3000);
  clearInterval(drip);
  assert.ok(sent < head.length, 'the head was cut before it was whole');
  const res = await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    { status: 408, details: /in time/ },
  );
  const line = await f.gw.logFor(res.headers['x-request-id']);
  assert.ok((line.total_ms as number) >= 100, `total_ms ${line.total_ms}: the head's wait is not counted`);
  assertUpstreamSawNothing(f);
});

test('a body that stalls is a 408 after body_idle_timeout; the upstream never sees it whole', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\nAccept: application/json\r\nX-Request-Id: stalled-body\r\n\r\n0123456789',
  );
  await client.until(hasFinalResponse, 3000);
  await client.untilClosed().catch(() => {});
  await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    {
      status: 408,
      details: /request body stalled for 500 ms \(limits\.body_idle_timeout\)/,
      requestId: 'stalled-body',
      json: true,
    },
  );
  // The head and the first bytes may have been forwarded; the body must not pass for whole.
  for (const seen of f.echo.received) {
    assert.equal(seen.bodyComplete, false);
    assert.ok(seen.bodyLength <= 10);
  }
  await assertStillServes(f);
});

test('a body that keeps moving, slower than body_idle_timeout in total, is not cut', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write('POST /slow-body HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\nConnection: close\r\n\r\n');
  for (const byte of 'abcdefgh') {
    await settle(100); // 800 ms in all, never 500 ms idle
    client.write(byte);
  }
  await client.until(hasFinalResponse, 3000);
  assert.equal(parseRaw(client.received).status, 200);
  const seen = await f.echo.waitForRequest(1, { body: true });
  assert.equal(seen.body.toString(), 'abcdefgh');
});

test('a connection that never sends a byte is closed after header_timeout, silently', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  const started = performance.now();
  await client.untilClosed(3000);
  assert.ok(client.closed);
  assert.ok(performance.now() - started >= 400, 'not before header_timeout');
  // No request was made (a preconnect, a scan): no 408 to nobody, no access-log line.
  assert.equal(client.received, '');
  await settle(50);
  assert.deepEqual(
    f.gw.logs.filter((l) => l.msg === 'request'),
    [],
  );
  assertUpstreamSawNothing(f);
});

test('a body held back by an upstream slow to read is not the client stalling: no 408 at body_idle_timeout', async (t) => {
  const size = 16 * 1024 * 1024;
  // Reads nothing for three body-idle timeouts (the client's upload backs up into the gateway,
  // which stops reading the client), then takes the whole body and answers.
  const upstream = net.createServer({ pauseOnConnect: true }, (socket) => {
    let seen = 0;
    let headEnd = -1;
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (headEnd === -1) {
        head += chunk.toString('latin1');
        headEnd = head.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        seen = head.length - headEnd - 4;
      } else seen += chunk.length;
      if (seen >= size) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    socket.on('error', () => {});
    setTimeout(() => socket.resume(), 1_500);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const port = (upstream.address() as net.AddressInfo).port;
  const gw = await startTestGateway(`limits: { body_idle_timeout: 500ms }
routes:
  - match: { path: / }
    upstream: app
    limits: { body: 32MiB }
    request_buffering: false
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
`);
  t.after(() => gw.close());
  const res = await request(gw.url, { method: 'POST', path: '/upload', body: Buffer.alloc(size, 'x') });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'ok');
});

test('a head that came in two reads and was served counts its total from its first byte', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write('GET /split HTTP/1.1\r\nHost: a\r\n');
  // Within the 500 ms header_timeout: the head comes whole, and is served.
  await settle(300);
  client.write('X-Request-Id: split-1\r\nConnection: close\r\n\r\n');
  await client.untilClosed(3000);
  assert.equal(parseRaw(client.received).status, 200);
  const line = await f.gw.logFor('split-1');
  // nginx's $request_time counts so too; it said the few ms from the head's last read (loosely:
  // a loaded machine reads the first half late, never early).
  assert.ok((line.total_ms as number) >= 200, `total_ms ${line.total_ms}: the head's wait is not counted`);
});
