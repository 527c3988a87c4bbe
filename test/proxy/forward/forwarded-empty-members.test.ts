/**
 * A trusted proxy's X-Forwarded-For or Forwarded with an empty member (an empty line beside
 * another, a trailing comma): the gateway reads such an entry as naming no address (the client
 * it judges is `unknown`, trust.ts), and the upstream is told so, `unknown` (`for=unknown` in
 * Forwarded, as for an element it cannot read), never an empty list member: RFC 9110 §5.6.1.1
 * says a sender MUST NOT generate one, and an app reading the list (Express's proxy-addr,
 * Django) took `''` for the client. The upstream was sent `X-Forwarded-For: , 127.0.0.1` and
 * `Forwarded: , for=127.0.0.1;…`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trustedProxyFixture } from './trusted-proxy-fixture.ts';

const fixture = await trustedProxyFixture();
/** Sends one request from the trusted proxy, closing its connection. */
const send = (id: string, fields: string) => fixture.send(id, `${fields}Connection: close\r\n`);
const { upstreamFields } = fixture;

for (const [name, fields, forwardedFor] of [
  ['an empty X-Forwarded-For line', 'X-Forwarded-For: \r\n', 'unknown, 127.0.0.1'],
  ['a trailing comma', 'X-Forwarded-For: 203.0.113.7,\r\n', '203.0.113.7, unknown, 127.0.0.1'],
  [
    'an empty line between two',
    'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: \r\nX-Forwarded-For: 198.51.100.2\r\n',
    '203.0.113.7, unknown, 198.51.100.2, 127.0.0.1',
  ],
] as const)
  test(`${name}: the upstream's X-Forwarded-For says unknown for it, as {client_ip} does, never an empty member`, async () => {
    const id = `xff-${name.replace(/\W+/g, '-')}`;
    assert.equal(await send(id, fields), 200);
    assert.deepEqual(upstreamFields(id, 'x-forwarded-for'), [forwardedFor]);
    if (!name.includes('between')) assert.deepEqual(upstreamFields(id, 'x-client'), ['unknown']);
    // No empty member anywhere in what this hop sent on.
    assert.doesNotMatch(upstreamFields(id, 'x-forwarded-for')[0], /(^|,)\s*(,|$)/);
  });

test('an X-Forwarded-For without empty members goes on as it came, this hop appended', async () => {
  assert.equal(await send('xff-whole', 'X-Forwarded-For: 203.0.113.7,198.51.100.2\r\n'), 200);
  assert.deepEqual(upstreamFields('xff-whole', 'x-forwarded-for'), ['203.0.113.7,198.51.100.2, 127.0.0.1']);
  assert.deepEqual(upstreamFields('xff-whole', 'x-client'), ['198.51.100.2']);
});

test("an empty Forwarded line (the proxy's only field): for=unknown in Forwarded, as in X-Forwarded-For and {client_ip}", async () => {
  assert.equal(await send('fwd-empty', 'Forwarded: \r\n'), 200);
  assert.deepEqual(upstreamFields('fwd-empty', 'x-client'), ['unknown']);
  assert.deepEqual(upstreamFields('fwd-empty', 'forwarded'), [
    'for=unknown, for=127.0.0.1;host=app;proto=http',
  ]);
  assert.deepEqual(upstreamFields('fwd-empty', 'x-forwarded-for'), ['unknown, 127.0.0.1']);
});

test('a Forwarded element left empty between two: for=unknown in its place', async () => {
  assert.equal(await send('fwd-between', 'Forwarded: for=203.0.113.7,, for=198.51.100.2\r\n'), 200);
  assert.deepEqual(upstreamFields('fwd-between', 'forwarded'), [
    'for=203.0.113.7, for=unknown, for=198.51.100.2, for=127.0.0.1;host=app;proto=http',
  ]);
  assert.deepEqual(upstreamFields('fwd-between', 'x-forwarded-for'), [
    '203.0.113.7, unknown, 198.51.100.2, 127.0.0.1',
  ]);
});
