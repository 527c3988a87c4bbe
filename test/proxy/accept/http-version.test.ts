/**
 * RFC 9112 §2.3: a request of the major version the gateway implements and a higher minor one
 * (HTTP/1.2) is processed as HTTP/1.1; it goes upstream as HTTP/1.1 and is answered so. A major
 * it does not implement stays a 505, on real sockets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertClientError,
  assertStillServes,
  assertUpstreamSawNothing,
  exchange,
  parseRaw,
  RawClient,
  startFixture,
} from './downstream-fixture.ts';

test('HTTP/1.2 and HTTP/1.9 requests are served as HTTP/1.1: forwarded as 1.1, answered as 1.1, kept alive', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  // Two on one connection: persistent by default, as HTTP/1.1 is (RFC 9112 §9.3).
  client.write(
    'GET /?n=1 HTTP/1.2\r\nHost: a\r\nX-Request-Id: v12\r\n\r\n' +
      'GET /?n=2 HTTP/1.9\r\nHost: a\r\nX-Request-Id: v19\r\nConnection: close\r\n\r\n',
  );
  await client.until(() => client.closed);
  const answers = client.received.split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 2, client.received);
  for (const answer of answers) {
    assert.equal(parseRaw(answer).status, 200);
    assert.ok(answer.startsWith('HTTP/1.1 200 OK\r\n'), answer);
  }
  assert.equal(f.echo.received.length, 2);
  for (const seen of f.echo.received) {
    assert.equal(seen.httpVersion, '1.1');
    assert.equal(seen.headers.via, '1.1 edge-1');
  }
  for (const id of ['v12', 'v19']) {
    const line = await f.gw.logFor(id);
    assert.equal(line.status, 200);
    assert.equal(line.protocol, 'HTTP/1.1');
  }
});

test('an HTTP/1.2 request refused (no Host, as HTTP/1.1 needs; a bad field line) is logged as the HTTP/1.1 it was read as', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const noHost = await exchange(f.gw.port, 'GET / HTTP/1.2\r\nAccept: application/json\r\n\r\n');
  const res = await assertClientError(f, noHost, {
    status: 400,
    details: /without a Host header/,
    json: true,
  });
  assert.equal((await f.gw.logFor(res.headers['x-request-id'])).protocol, 'HTTP/1.1');
  // Refused by the parser, before the head parsed: the protocol is read off the request line.
  const badLine = await exchange(
    f.gw.port,
    'GET / HTTP/1.2\r\nHost: a\r\nBad Name: x\r\nAccept: application/json\r\n\r\n',
  );
  const bad = await assertClientError(f, badLine, { status: 400, details: /header/, json: true });
  assert.equal((await f.gw.logFor(bad.headers['x-request-id'])).protocol, 'HTTP/1.1');
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

test('another major version (HTTP/3.0) is still a 505, and HTTP/1.10 (two digits) a 400', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const major = await exchange(
    f.gw.port,
    'GET / HTTP/3.0\r\nHost: a\r\nX-Request-Id: v30\r\nAccept: application/json\r\n\r\n',
  );
  await assertClientError(f, major, {
    status: 505,
    details: /HTTP\/3\.0 is not supported on this listener/,
    json: true,
  });
  const digits = await exchange(
    f.gw.port,
    'GET / HTTP/1.10\r\nHost: a\r\nX-Request-Id: v110\r\nAccept: application/json\r\n\r\n',
  );
  await assertClientError(f, digits, { status: 400, details: /invalid HTTP version/, json: true });
  assertUpstreamSawNothing(f);
});
