/**
 * The client's request modifiers as the accept phase reads them (RFC 9110 §7.6.2, §10.1.1):
 * `Expect`, `Max-Forwards`, and what a refusal says of the values (and names) it quotes. Raw
 * bytes on a real gateway in front of an echo upstream; what reached the upstream is asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertClientError,
  assertStillServes,
  assertUpstreamSawNothing,
  exchange,
  hasFinalResponse,
  parseRaw,
  RawClient,
  startFixture,
} from './downstream-fixture.ts';

const HEAD = 'Host: a\r\nAccept: application/json\r\nX-Request-Id: modifiers';

// A client's value is quoted in Proxy-Status, the problem body and the log line: one as long
// as the head allows was echoed whole in each (3 KiB of it in one response field).
for (const [label, field, status, details] of [
  ['an Expect', `Expect: ${'x'.repeat(3000)}`, 417, /^expectation "x{40}\.\.\." cannot be met$/],
  [
    'a Transfer-Encoding',
    `Transfer-Encoding: ${'x'.repeat(3000)}, chunked`,
    501,
    /^transfer coding "x{40}\.\.\." is not supported$/,
  ],
  [
    'an Expect with a quote and obs-text',
    'Expect: caf\xe9"\\',
    417,
    /^expectation "caf\?\?\?" cannot be met$/,
  ],
  [
    'a field name (a NUL in its value)',
    `X${'n'.repeat(3000)}: \x00`,
    400,
    /^malformed request \(HPE_INVALID_HEADER_TOKEN: invalid character in the value of header "Xn{39}\.\.\."\)$/,
  ],
] as const) {
  test(`a refusal of ${label} names its first 40 characters only, printable`, async (t) => {
    const f = await startFixture();
    t.after(() => f.close());
    const body = field.startsWith('Transfer') ? '0\r\n\r\n' : '';
    const answer = await exchange(
      f.gw.port,
      Buffer.from(`POST / HTTP/1.1\r\n${HEAD}\r\n${field}\r\n\r\n${body}`, 'latin1'),
    );
    const res = await assertClientError(f, answer, { status, details, json: true });
    assert.ok(res.headers['proxy-status'].length < 200, res.headers['proxy-status']);
    assert.match(JSON.parse(res.body).details, details);
    assert.match(String((await f.gw.logFor(res.headers['x-request-id'])).details), details);
    assertUpstreamSawNothing(f);
    await assertStillServes(f);
  });
}

// RFC 9110 §5.6.1.2: a recipient MUST ignore the empty members of a list. `100-continue,` asks
// for 100-continue; it was a 417 naming the expectation "100-continue," (and `Expect:` one for "").
test('Expect: 100-continue with an empty list member is 100-continue: a 100 Continue, then the answer', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write('POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue, \r\n\r\n');
  await client.until((text) => text.includes('\r\n\r\n'));
  assert.equal(client.received, 'HTTP/1.1 100 Continue\r\n\r\n');
  client.write('0123456789');
  await client.until(hasFinalResponse);
  assert.equal(parseRaw(client.received).status, 200);
  const seen = await f.echo.waitForRequest(1, { body: true });
  assert.equal(seen.body.toString(), '0123456789');
  assert.equal(seen.headers.expect, undefined);
});

test('an Expect with no member (`Expect:`, `Expect: ,`) asks for nothing: forwarded, no 100 Continue, no 417', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  for (const [i, value] of ['', ' , '].entries()) {
    const answer = await exchange(
      f.gw.port,
      `POST /ok HTTP/1.1\r\nHost: a\r\nExpect:${value}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
    );
    const res = parseRaw(answer.raw);
    assert.equal(res.status, 200, answer.raw);
    assert.deepEqual(res.interim, []);
    const seen = await f.echo.waitForRequest(i + 1, { body: true });
    assert.equal(seen.body.toString(), 'hello');
    assert.equal(seen.headers.expect, undefined);
  }
});

// Max-Forwards is 1*DIGIT (RFC 9110 §7.6.2): `00` is zero, and a zero MUST NOT be forwarded.
test('OPTIONS with Max-Forwards: 00 is spent as 0 is: answered by the gateway, nothing forwarded', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await exchange(
    f.gw.port,
    'OPTIONS /thing HTTP/1.1\r\nHost: a\r\nMax-Forwards: 00\r\nX-Request-Id: spent\r\n\r\n',
  );
  const res = parseRaw(answer.raw);
  assert.equal(res.status, 200);
  assert.equal(res.headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  assert.equal((await f.gw.logFor('spent')).attempts, 0);
  assertUpstreamSawNothing(f);
});

// Max-Forwards is a singleton (RFC 9110 §7.6.2, §5.3), yet a proxy that adds its line instead of
// replacing the one it got sends two, and one that merges lines sends a list. The gateway read the
// first line alone and forwarded every line: `3` then `0` went on as `2` and `0`, an OPTIONS a
// hop before had spent forwarded all the same, and a next hop that reads the last line (or the
// list) read another count than the one this hop judged. The least count of every line and
// member is the one that holds: a zero anywhere is answered here, and one line goes on.
test('Max-Forwards in two lines or as a list: the least count holds, spent at 0, and one line goes on', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  for (const [label, fields] of [
    ['a 0 in the second line', 'Max-Forwards: 3\r\nMax-Forwards: 0'],
    ['a 0 in a list', 'Max-Forwards: 3, 0'],
  ] as const) {
    const id = `spent-${label.replaceAll(' ', '-')}`;
    const res = parseRaw(
      (
        await exchange(
          f.gw.port,
          `OPTIONS /thing HTTP/1.1\r\nHost: a\r\n${fields}\r\nX-Request-Id: ${id}\r\n\r\n`,
        )
      ).raw,
    );
    assert.equal(res.status, 200, label);
    assert.equal(res.headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', label);
    assert.equal((await f.gw.logFor(id)).attempts, 0, label);
  }
  assertUpstreamSawNothing(f);
  for (const [i, [fields, sent]] of [
    ['Max-Forwards: 5\r\nMax-Forwards: 3', '2'],
    ['Max-Forwards: 3, 9', '2'],
    ['Max-Forwards: 7\r\nMax-Forwards: x', '6'],
  ].entries()) {
    const res = parseRaw(
      (await exchange(f.gw.port, `OPTIONS /thing HTTP/1.1\r\nHost: a\r\n${fields}\r\n\r\n`)).raw,
    );
    assert.equal(res.status, 200);
    const seen = await f.echo.waitForRequest(i + 1);
    const lines = seen.rawHeaders
      .filter(([name]) => name.toLowerCase() === 'max-forwards')
      .map(([, value]) => value);
    assert.deepEqual(lines, [sent], fields);
  }
});

// RFC 9112 §3.2.4: an OPTIONS whose absolute-form target has an empty path and no query is
// sent on by the last proxy as `OPTIONS *`; Candor answers that one itself. It went on as
// `OPTIONS /`, a question about a resource the client did not ask about.
test('OPTIONS http://a (empty path, no query) is OPTIONS *: answered by the gateway; with a path or a query it is forwarded', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const server = parseRaw(
    (await exchange(f.gw.port, 'OPTIONS http://a HTTP/1.1\r\nHost: a\r\nX-Request-Id: star\r\n\r\n')).raw,
  );
  assert.equal(server.status, 200);
  assert.equal(server.headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  assert.equal((await f.gw.logFor('star')).attempts, 0);
  assertUpstreamSawNothing(f);
  for (const [i, [target, path]] of [
    ['http://a/', '/'],
    ['http://a?x=1', '/?x=1'],
  ].entries()) {
    const res = parseRaw((await exchange(f.gw.port, `OPTIONS ${target} HTTP/1.1\r\nHost: a\r\n\r\n`)).raw);
    assert.equal(res.status, 200);
    const seen = await f.echo.waitForRequest(i + 1);
    assert.equal(seen.method, 'OPTIONS');
    assert.equal(seen.path, path);
  }
});
