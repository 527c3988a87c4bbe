/**
 * A trusted proxy's `Forwarded` (RFC 7239) whose elements cannot be read, on real sockets: the
 * head the upstream gets, and whom the IP lists judge. HAProxy and nginx pass a client's
 * Forwarded on untouched, so behind them its every byte is the client's.
 *
 * - A quoted-string left open swallowed this hop's own element, appended after it: an upstream
 *   that reads the last element (the right one, this hop's) read the client's parameters there
 *   instead (`x="` then `, for=127.0.0.1;…` is one element, its for= and proto= the client's).
 * - A parameter twice in one element (RFC 7239 §4: MUST NOT) was read as its last, and went on
 *   as sent: the client (or host, or scheme) a trusted proxy named was whichever of two a parser
 *   picks, here the one the lists judged. The element now names nothing, and goes on as
 *   `for=unknown`.
 * - `{client_ip}` where a trusted hop's own entry names no address was that proxy's address: a
 *   rule's `X-Real-IP` told the upstream the request came from inside. It is `unknown` now.
 * - An X-Forwarded-Proto list whose last entry states no scheme (`https, wss`) went on whole: the
 *   request was routed and cached as the listener's http, while Express and Django, which read a
 *   list's first entry, the client's, took it for https.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

/** Sends one raw request from 127.0.0.1 (the trusted proxy); the status line's code. */
function send(port: number, path: string, id: string, fields: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Number(Buffer.concat(chunks).toString('latin1').slice(9, 12))));
    socket.on('error', reject);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\n${fields}Connection: close\r\n\r\n`,
    );
  });
}

/** The values of every field `name` in a head, in order. */
function fieldsOf(head: string, name: string): string[] {
  return head
    .split('\r\n')
    .slice(1)
    .filter((line) => line.slice(0, line.indexOf(':')).toLowerCase() === name)
    .map((line) => line.slice(line.indexOf(':') + 1).trim());
}

describe("a trusted proxy's Forwarded whose elements cannot be read", () => {
  let gw: TestGateway;
  let upstream: Awaited<ReturnType<typeof scriptedUpstream>>;
  test('setup', async () => {
    upstream = await keep(scriptedUpstream((socket) => socket.write(OK)));
    gw = await keep(
      startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - match: { path: /staff }
    upstream: app
    allow: [6.6.6.0/24, 198.51.100.0/24]
  - match: { path: /real }
    upstream: app
    request_headers: { set: { X-Real-IP: "{client_ip}" } }
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`),
    );
  });

  /** The upstream's head for the request with this id. */
  const headOf = (id: string): string => {
    const found = upstream.requests.find((r) => r.head.includes(`\r\nx-request-id: ${id}\r\n`));
    assert.ok(found, `no request ${id} upstream`);
    return found.head;
  };

  for (const [name, fields, forwarded, forwardedFor] of [
    [
      'an open quote in its only element',
      'Forwarded: for=198.51.100.1;proto=https;x="\r\n',
      'for=unknown, for=127.0.0.1;host=app;proto=http',
      'unknown, 127.0.0.1',
    ],
    [
      'an open quote in its second element',
      'Forwarded: for=192.0.2.1, for="[2001:db8::7]\r\n',
      'for=192.0.2.1, for=unknown, for=127.0.0.1;host=app;proto=http',
      '192.0.2.1, unknown, 127.0.0.1',
    ],
    [
      "an open quote in the client's line, which swallows its proxy's",
      'Forwarded: for="\r\nForwarded: for=203.0.113.9\r\n',
      'for=unknown, for=127.0.0.1;host=app;proto=http',
      'unknown, 127.0.0.1',
    ],
  ] as const)
    test(`${name}: the upstream gets that element as for=unknown, then this hop's own, readable last`, async () => {
      const id = `open-${name.replace(/\W+/g, '-')}`;
      assert.equal(await send(gw.port, '/', id, fields), 200);
      const head = headOf(id);
      assert.deepEqual(fieldsOf(head, 'forwarded'), [forwarded]);
      assert.deepEqual(fieldsOf(head, 'x-forwarded-for'), [forwardedFor]);
      assert.deepEqual(fieldsOf(head, 'x-forwarded-proto'), ['http']);
    });

  test('for= twice in one element names no client: refused by the allow list that holds both', async () => {
    const status = await send(
      gw.port,
      '/staff',
      'twice-staff',
      'Forwarded: for=198.51.100.1;for=6.6.6.6\r\n',
    );
    assert.equal(status, 403);
    assert.equal((await gw.logFor('twice-staff')).auth, 'denied: ip client unknown (Forwarded)');
  });

  test('for= twice in one element: the upstream is told unknown for it, never one of the two', async () => {
    const status = await send(gw.port, '/', 'twice-open', 'Forwarded: for=198.51.100.1;For=6.6.6.6\r\n');
    assert.equal(status, 200);
    const head = headOf('twice-open');
    assert.deepEqual(fieldsOf(head, 'forwarded'), ['for=unknown, for=127.0.0.1;host=app;proto=http']);
    assert.deepEqual(fieldsOf(head, 'x-forwarded-for'), ['unknown, 127.0.0.1']);
  });

  test('host= twice in one element: neither goes on, as X-Forwarded-Host nor in Forwarded (an app would build its links from either, unkeyed by the cache)', async () => {
    const fields = 'Forwarded: for=192.0.2.1, for=192.0.2.2;host=a.example;host=evil.example\r\n';
    assert.equal(await send(gw.port, '/', 'twice-host', fields), 200);
    const head = headOf('twice-host');
    assert.deepEqual(fieldsOf(head, 'forwarded'), [
      'for=192.0.2.1, for=unknown, for=127.0.0.1;host=app;proto=http',
    ]);
    assert.deepEqual(fieldsOf(head, 'x-forwarded-host'), ['app']);
    assert.deepEqual(fieldsOf(head, 'x-forwarded-for'), ['192.0.2.1, unknown, 127.0.0.1']);
  });

  test('proto= twice in one element states no scheme: the request is the listener’s http, the element unknown', async () => {
    const status = await send(
      gw.port,
      '/',
      'twice-proto',
      'Forwarded: for=192.0.2.1;proto=http;proto=https\r\n',
    );
    assert.equal(status, 200);
    const head = headOf('twice-proto');
    assert.deepEqual(fieldsOf(head, 'x-forwarded-proto'), ['http']);
    // The element is malformed as a whole (RFC 7239 §4): its for= is no more its proxy's word.
    assert.deepEqual(fieldsOf(head, 'x-forwarded-for'), ['unknown, 127.0.0.1']);
    assert.deepEqual(fieldsOf(head, 'forwarded'), ['for=unknown, for=127.0.0.1;host=app;proto=http']);
  });

  for (const [proto, told] of [
    ['https, wss', 'wss'],
    ['https, ', 'http'],
    ['https,gopher', 'gopher'],
  ] as const)
    test(`X-Forwarded-Proto: ${proto} states no scheme: the upstream is told the proxy's last word alone (${told}), never the client's https first`, async () => {
      const id = `proto-${proto.replace(/\W+/g, '-')}`;
      assert.equal(await send(gw.port, '/', id, `X-Forwarded-Proto: ${proto}\r\n`), 200);
      assert.deepEqual(fieldsOf(headOf(id), 'x-forwarded-proto'), [told]);
    });

  // An empty last entry names no host (RFC 9110 §5.6.1.1: a sender must not make one): it went on as
  // no X-Forwarded-Host at all, where an empty X-Forwarded-Proto falls back to the request's own.
  for (const [host, told] of [
    ['shop.example, ', 'app'],
    ['', 'app'],
    ['a.example, shop.example', 'shop.example'],
  ] as const)
    test(`X-Forwarded-Host: "${host}" goes on as its last entry, or the Host this hop sends when that is empty (${told})`, async () => {
      const id = `host-${host.replace(/\W+/g, '-') || 'empty'}`;
      assert.equal(await send(gw.port, '/', id, `X-Forwarded-Host: ${host}\r\n`), 200);
      assert.deepEqual(fieldsOf(headOf(id), 'x-forwarded-host'), [told]);
    });

  // A client that makes its proxy's own word unreadable (HAProxy's `option forwarded` adds its own
  // line after the client's) is nobody known: never the trusted proxy, whose address an upstream's
  // own allow list may hold, in the X-Real-IP a rule writes from {client_ip}.
  for (const [name, fields, forwardedFor] of [
    [
      "an open quote that swallows the proxy's Forwarded line",
      'Forwarded: for="\r\nForwarded: for=203.0.113.9\r\n',
      'unknown, 127.0.0.1',
    ],
    [
      "the proxy's X-Forwarded-For entry that is no address",
      'X-Forwarded-For: 010.0.0.1\r\n',
      '010.0.0.1, 127.0.0.1',
    ],
  ] as const)
    test(`{client_ip} after ${name}: unknown, as the lists judge it, never the proxy`, async () => {
      const id = `real-${name.replace(/\W+/g, '-')}`;
      assert.equal(await send(gw.port, '/real', id, fields), 200);
      const head = headOf(id);
      assert.deepEqual(fieldsOf(head, 'x-real-ip'), ['unknown']);
      assert.deepEqual(fieldsOf(head, 'x-forwarded-for'), [forwardedFor]);
    });

  test('{client_ip} behind a trusted proxy that names its client: that client', async () => {
    assert.equal(
      await send(gw.port, '/real', 'real-named', 'X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n'),
      200,
    );
    assert.deepEqual(fieldsOf(headOf('real-named'), 'x-real-ip'), ['203.0.113.7']);
  });
});
