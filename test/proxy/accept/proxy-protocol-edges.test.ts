/**
 * listen[].proxy_protocol against the edges of HAProxy's spec, through a real gateway and raw
 * sockets writing exact bytes: a v1 or v2 header sent a byte at a time, malformed v1 lines
 * (refused at once, not at the timeout), v2's LOCAL, UNSPEC and UNIX (the peer stands), its
 * TLVs (read past), a length past the bound, a header in the same write as a TLS ClientHello,
 * and an IPv6 client in Forwarded, deny and the log. The header's wait: proxy-protocol-header-wait.test.ts.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { exchangeWrites, v2Header } from '../../helpers/proxy-header.ts';
import {
  singleUpstream,
  startGatewayFromText,
  startTestGateway,
  type TestGateway,
} from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

const echoHeaders = () =>
  keep(
    listenOnLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, ...req.headers }));
    }),
  );

const GET = (id: string) =>
  `GET /who HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`;

function upstreamSaw(text: string): Record<string, string> {
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

const tcp4Body = (a: number[]) => Buffer.from([...a, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb]);
const tlv = (type: number, value: Buffer) =>
  Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 0xff]), value]);

const refusals = (gw: TestGateway, since: number) =>
  gw.logs.slice(since).filter((l) => l.msg === 'PROXY protocol: connection refused');

describe('PROXY protocol edges from a listed source', () => {
  let gw: TestGateway;
  test('setup', async () => {
    const app = await echoHeaders();
    // The first listener for the cases served, then one for each refusal below: a listener tells
    // its refusals at most once a second (report-every-second.ts), so on one listener each case
    // after the first waited up to a second for its line.
    const listeners = ['served', ...refused.map((_, i) => `refused-${i}`)].map(
      (name) => `  - address: 127.0.0.1:0\n    name: ${name}\n    proxy_protocol: { from: [127.0.0.0/8] }\n`,
    );
    gw = await keep(startGatewayFromText(`listen:\n${listeners.join('')}${singleUpstream(app.url)}`));
  });

  test('a v1 header and its request written a byte at a time: read whole, the client is the header’s', async () => {
    const bytes = `PROXY TCP4 192.0.2.77 10.0.0.1 56324 443\r\n${GET('edge-bytewise')}`;
    const outcome = await exchangeWrites(gw.port, [...bytes]);
    assert.equal(upstreamSaw(outcome.text)['x-forwarded-for'], '192.0.2.77');
    assert.equal((await gw.logFor('edge-bytewise')).client, '192.0.2.77');
  });

  test('a v2 header written a byte at a time: read whole', async () => {
    const header = v2Header(1, 0x11, tcp4Body([192, 0, 2, 78]));
    const outcome = await exchangeWrites(gw.port, [
      ...[...header].map((b) => Buffer.from([b])),
      GET('edge-v2-bytewise'),
    ]);
    assert.equal(upstreamSaw(outcome.text)['x-forwarded-for'], '192.0.2.78');
  });

  const served: [string, Buffer, string][] = [
    // The spec: whatever follows UNKNOWN on its line is ignored; the connection's peer stands.
    ['v1 UNKNOWN with addresses after it', Buffer.from('PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n'), '127.0.0.1'],
    ['v1 at the bound, 107 bytes', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(107 - 16)}\r\n`), '127.0.0.1'],
    ['v1 ports 0 and 65535', Buffer.from('PROXY TCP4 192.0.2.5 10.0.0.1 0 65535\r\n'), '192.0.2.5'],
    [
      'v2 LOCAL with TCP4 addresses (a health check)',
      v2Header(0, 0x11, tcp4Body([192, 0, 2, 9])),
      '127.0.0.1',
    ],
    ['v2 PROXY with UNSPEC and a body', v2Header(1, 0x00, Buffer.from('ignored whole')), '127.0.0.1'],
    ['v2 PROXY with UNIX stream addresses', v2Header(1, 0x31, Buffer.alloc(216, 0x61)), '127.0.0.1'],
    [
      'v2 TCP4 with AUTHORITY, SSL (sub-TLVs), NOOP and an unknown type',
      v2Header(
        1,
        0x11,
        Buffer.concat([
          tcp4Body([192, 0, 2, 10]),
          tlv(0x02, Buffer.from('api.example.com')),
          tlv(
            0x20,
            Buffer.concat([
              Buffer.from([0x07, 0, 0, 0, 0]),
              tlv(0x21, Buffer.from('TLSv1.3')),
              tlv(0x22, Buffer.from('CN')),
            ]),
          ),
          tlv(0x04, Buffer.alloc(5)),
          tlv(0xe7, Buffer.from('vendor')),
        ]),
      ),
      '192.0.2.10',
    ],
  ];
  for (const [name, header, client] of served) {
    test(`${name}: served, the client ${client}`, async () => {
      const id = `edge-${name.replace(/\W+/g, '-')}`;
      const outcome = await exchangeWrites(gw.port, [Buffer.concat([header, Buffer.from(GET(id))])]);
      assert.equal(upstreamSaw(outcome.text)['x-forwarded-for'], client);
      assert.equal((await gw.logFor(id)).client, client);
    });
  }

  const refused: [string, Buffer, RegExp][] = [
    ['v1 with 256.1.1.1', Buffer.from('PROXY TCP4 256.1.1.1 10.0.0.1 1 2\r\n'), /not TCP4/],
    ['v1 with port 65536', Buffer.from('PROXY TCP4 192.0.2.1 10.0.0.1 65536 2\r\n'), /invalid port/],
    ['v1 with port -1', Buffer.from('PROXY TCP4 192.0.2.1 10.0.0.1 -1 2\r\n'), /invalid port/],
    ['v1 with two spaces', Buffer.from('PROXY TCP4 192.0.2.1  10.0.0.1 1 2\r\n'), /five fields/],
    ['v1 with a trailing space', Buffer.from('PROXY TCP4 192.0.2.1 10.0.0.1 1 2 \r\n'), /five fields/],
    ['v1 ended by LF alone', Buffer.from('PROXY TCP4 192.0.2.1 10.0.0.1 1 2\n'), /bare LF/],
    // An UNKNOWN line ended by a bare LF would otherwise swallow the request line after it.
    ['v1 UNKNOWN ended by LF alone', Buffer.from('PROXY UNKNOWN x\n'), /bare LF/],
    ['v1 of 108 bytes without CRLF', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(94)}`), /longer than 107/],
    [
      'v2 version 1',
      Buffer.from([...v2Header(1, 0x11, tcp4Body([1, 2, 3, 4]))].map((b, i) => (i === 12 ? 0x11 : b))),
      /version 1/,
    ],
    ['v2 command 2', v2Header(2, 0x11, tcp4Body([1, 2, 3, 4])), /command 2/],
    ['v2 length 65535', v2Header(1, 0x11, Buffer.alloc(65535)), /65535 bytes, past 2048/],
    ['v2 UNIX body too short', v2Header(1, 0x31, Buffer.alloc(100)), /too short/],
    [
      'v2 TLV running past the header',
      v2Header(1, 0x11, Buffer.concat([tcp4Body([1, 2, 3, 4]), Buffer.from([0x02, 0x00, 0x10, 0x61])])),
      /runs past the header/,
    ],
  ];
  for (const [index, [name, header, reason]] of refused.entries()) {
    test(`${name}: refused at once, unanswered, nothing forwarded, the reason logged`, async () => {
      const since = gw.logs.length;
      const id = `edge-bad-${name.replace(/\W+/g, '-')}`;
      const port = gw.gateway.listeners[index + 1].port();
      const outcome = await exchangeWrites(port, [Buffer.concat([header, Buffer.from(GET(id))])]);
      assert.deepEqual(outcome, { text: '', closed: true });
      await waitUntil(`a refusal logged with ${reason}`, () =>
        refusals(gw, since).some((l) => reason.test(String(l.reason))),
      );
      assert.equal(gw.logs.filter((l) => l.req_id === id || l.client_req_id === id).length, 0);
    });
  }
});

test('a PROXY header and the TLS ClientHello in one write: the handshake and the request go through', async () => {
  const app = await echoHeaders();
  const certs = testCertificates();
  const gw = await keep(
    startTestGateway(
      singleUpstream(app.url),
      {},
      `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n    proxy_protocol: { from: [127.0.0.1] }`,
    ),
  );
  for (const [name, header] of [
    ['v1', Buffer.from('PROXY TCP4 203.0.113.80 10.0.0.1 56324 443\r\n')],
    ['v2', v2Header(1, 0x11, tcp4Body([203, 0, 113, 81]))],
  ] as const) {
    const raw = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve) => raw.once('connect', resolve));
    // A stream of our own under TLS, so its first write (the ClientHello) can carry the header.
    let first = true;
    const carrier = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        raw.write(first ? Buffer.concat([header, chunk]) : chunk, done);
        first = false;
      },
      final(done) {
        raw.end();
        done();
      },
    });
    raw.on('data', (c: Buffer) => carrier.push(c));
    raw.on('end', () => carrier.push(null));
    raw.on('error', (err) => carrier.destroy(err));
    const socket = tls.connect({
      socket: carrier,
      servername: 'localhost',
      ca: certs.ca,
      ALPNProtocols: ['http/1.1'],
    });
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    await new Promise((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    socket.write(GET(`edge-tls-${name}`));
    await new Promise((resolve) => socket.on('end', resolve));
    socket.destroy();
    raw.destroy();
    const client = name === 'v1' ? '203.0.113.80' : '203.0.113.81';
    assert.equal(upstreamSaw(text)['x-forwarded-for'], client);
    assert.equal((await gw.logFor(`edge-tls-${name}`)).client, client);
  }
});

test('an IPv6 client of the header: Forwarded writes it bracketed and quoted, allow/deny and the log read it; a mapped IPv4 one is the IPv4 client', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    deny: [192.0.2.0/24, "2001:db8:bad::/48"]
upstreams:
  app:
    targets:
      - url: ${app.url}
`,
      {},
      'proxy_protocol: { from: [127.0.0.1] }',
    ),
  );
  const v2Tcp6 = (source: string) =>
    v2Header(
      1,
      0x21,
      Buffer.concat([Buffer.from(source, 'hex'), Buffer.alloc(16), Buffer.from([0xdc, 0x04, 0x01, 0xbb])]),
    );
  const served = await exchangeWrites(gw.port, [
    Buffer.concat([v2Tcp6('20010db8000000000000000000000001'), Buffer.from(GET('edge-v6'))]),
  ]);
  const saw = upstreamSaw(served.text);
  assert.equal(saw['x-forwarded-for'], '2001:db8::1');
  assert.equal(saw.forwarded, 'for="[2001:db8::1]";host=app;proto=http');
  assert.equal((await gw.logFor('edge-v6')).client, '2001:db8::1');
  const denied6 = await exchangeWrites(gw.port, [
    Buffer.concat([v2Tcp6('20010db80bad00000000000000000007'), Buffer.from(GET('edge-v6-deny'))]),
  ]);
  assert.match(denied6.text, /^HTTP\/1\.1 403 /);
  assert.equal((await gw.logFor('edge-v6-deny')).client, '2001:db8:bad::7');
  // A dual-stack balancer names an IPv4 client as TCP6 ::ffff:a.b.c.d: the same client as its TCP4 line.
  const mapped = await exchangeWrites(gw.port, [
    `PROXY TCP6 ::ffff:192.0.2.9 ::1 56324 443\r\n${GET('edge-mapped')}`,
  ]);
  assert.match(mapped.text, /^HTTP\/1\.1 403 /);
  assert.equal((await gw.logFor('edge-mapped')).client, '192.0.2.9');
  const mappedServed = await exchangeWrites(gw.port, [
    `PROXY TCP6 ::ffff:198.51.100.9 ::1 56324 443\r\n${GET('edge-mapped-ok')}`,
  ]);
  const sawMapped = upstreamSaw(mappedServed.text);
  assert.equal(sawMapped['x-forwarded-for'], '198.51.100.9');
  assert.equal(sawMapped.forwarded, 'for=198.51.100.9;host=app;proto=http');
});

test('a header from a source not in `from` is refused, unanswered, nothing forwarded, and logged with its peer', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(singleUpstream(app.url), {}, 'proxy_protocol: { from: [10.0.0.0/8] }'),
  );
  const outcome = await exchangeWrites(gw.port, [
    `PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n${GET('edge-unlisted')}`,
  ]);
  assert.deepEqual(outcome, { text: '', closed: true });
  await waitUntil('the refusal logged', () => refusals(gw, 0).length > 0);
  const [line] = refusals(gw, 0);
  assert.equal(line.client, '127.0.0.1');
  assert.equal(line.reason, 'PROXY header from a source not in proxy_protocol.from');
  assert.equal(gw.logs.filter((l) => l.msg === 'request').length, 0);
});
