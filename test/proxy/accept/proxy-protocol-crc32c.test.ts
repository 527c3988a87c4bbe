/**
 * A PROXY protocol v2 header's CRC32C TLV (PP2_TYPE_CRC32C, 0x03) is checked, as the spec says
 * a receiver that supports it must: the checksum of the whole header with that field zeroed.
 * A header whose checksum holds is read as any other; one whose bytes or checksum were damaged
 * on the way is refused like any invalid header: closed unanswered, the reason logged.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { v2Header, v2HeaderWithCrc32c } from '../../helpers/proxy-header.ts';
import { singleUpstream, startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

/** Writes `bytes` (a header and a request, in one write), reads until the gateway closes. */
function exchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the gateway did not close the connection within 5 s'));
    }, 5000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', done);
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : reject(err)));
    socket.write(bytes);
  });
}

const GET = (id: string) =>
  `GET /who HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`;

/** Source 198.51.100.9:56324, destination 10.0.0.1:443. */
const TCP4 = Buffer.from([198, 51, 100, 9, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb]);
const TCP6 = Buffer.concat([
  Buffer.from('20010db8000000000000000000000042', 'hex'),
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from([0xdc, 0x04, 0x01, 0xbb]),
]);

describe('a PROXY v2 header with a CRC32C TLV', () => {
  let gw: TestGateway;
  let upstreamSeen: string[];
  test('setup', async () => {
    upstreamSeen = [];
    const app = await keep(
      listenOnLoopback((req, res) => {
        upstreamSeen.push(String(req.headers['x-request-id']));
        res.end(String(req.headers['x-forwarded-for']));
      }),
    );
    // The first listener for the headers read, then one for each damaged one at the end: a
    // listener tells its refusals at most once a second (report-every-second.ts), so on one
    // listener each damaged header waited up to a second for its line.
    const listeners = ['read', ...refused.map((_, i) => `refused-${i}`)].map(
      (name) => `  - address: 127.0.0.1:0\n    name: ${name}\n    proxy_protocol: { from: [127.0.0.1] }\n`,
    );
    gw = await keep(startGatewayFromText(`listen:\n${listeners.join('')}${singleUpstream(app.url)}`));
  });

  for (const [name, header, client] of [
    ['TCP4', v2HeaderWithCrc32c(1, 0x11, TCP4), '198.51.100.9'],
    ['TCP6', v2HeaderWithCrc32c(1, 0x21, TCP6), '2001:db8::42'],
  ] as const) {
    test(`whose checksum holds (${name}) is read: the client is ${client}`, async () => {
      const id = `crc-good-${name}`;
      const text = await exchange(gw.port, Buffer.concat([header, Buffer.from(GET(id))]));
      assert.match(text, /^HTTP\/1\.1 200 /, text);
      assert.ok(text.endsWith(`\r\n\r\n${client}`), text);
      assert.equal((await gw.logFor(id)).client, client);
    });
  }

  const good = v2HeaderWithCrc32c(1, 0x11, TCP4);
  const damaged = (at: number, xor: number) => {
    const bytes = Buffer.from(good);
    bytes[at] ^= xor;
    return bytes;
  };
  const refused = [
    // A source address damaged on the way: 198.51.100.9 read as 198.51.100.8.
    ['a source address byte flipped', damaged(16 + 3, 0x01), /CRC32C/],
    ['a destination port byte flipped', damaged(16 + 10, 0x80), /CRC32C/],
    ['the checksum itself damaged', damaged(good.length - 1, 0x10), /CRC32C/],
    [
      'a CRC32C TLV of 2 bytes',
      v2Header(1, 0x11, Buffer.concat([TCP4, Buffer.from([0x03, 0x00, 0x02, 0x12, 0x34])])),
      /CRC32C TLV of 2 bytes/,
    ],
  ] as const;
  for (const [index, [name, header, reason]] of refused.entries()) {
    test(`${name}: refused, closed unanswered, the reason logged, nothing forwarded`, async () => {
      const seen = gw.logs.length;
      const port = gw.gateway.listeners[index + 1].port();
      const text = await exchange(port, Buffer.concat([header, Buffer.from(GET('crc-bad'))]));
      assert.equal(text, '');
      // Refusals are told at most once a second, each line with the last one's reason: this
      // listener's first.
      await waitUntil(`a refusal logged with ${reason}`, () =>
        gw.logs
          .slice(seen)
          .some((l) => l.msg === 'PROXY protocol: connection refused' && reason.test(String(l.reason))),
      );
      assert.equal(upstreamSeen.includes('crc-bad'), false);
    });
  }
});
