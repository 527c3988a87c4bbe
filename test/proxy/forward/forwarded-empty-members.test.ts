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
import net from 'node:net';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const upstream = await keep(
  scriptedUpstream((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')),
);
const gw = await keep(
  startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - match: { path: / }
    upstream: app
    request_headers: { set: { X-Client: "{client_ip}" } }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
);

/** Sends one raw request from 127.0.0.1 (the trusted proxy); the status line's code. */
function send(id: string, fields: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Number(Buffer.concat(chunks).toString('latin1').slice(9, 12))));
    socket.on('error', reject);
    socket.write(
      `GET /page HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\n${fields}Connection: close\r\n\r\n`,
    );
  });
}

/** The values of every field `name` in the upstream's head of the request with this id. */
function upstreamFields(id: string, name: string): string[] {
  const found = upstream.requests.find((r) => r.head.includes(`\r\nx-request-id: ${id}\r\n`));
  assert.ok(found, `no request ${id} upstream`);
  return found.head
    .split('\r\n')
    .slice(1)
    .filter((line) => line.slice(0, line.indexOf(':')).toLowerCase() === name)
    .map((line) => line.slice(line.indexOf(':') + 1).trim());
}

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
