/**
 * An IPv4 client written as an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, from a dual-stack
 * socket or a balancer's PROXY TCP6 header, in any spelling) is spelled one way everywhere the
 * gateway names the client: the access log's `client`, `{client_ip}`, X-Forwarded-For and
 * Forwarded's `for=`.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { v2Header } from '../../helpers/proxy-header.ts';
import { startGatewayFromText, startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** Writes `bytes` on a new connection and reads until the gateway closes it. */
function exchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

const GET = (id: string) =>
  `GET /who HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`;

/** An upstream that answers with the headers it received, as JSON. */
const echoHeaders = () =>
  keep(
    listenOnLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
    }),
  );

const ROUTES = (url: string) => `routes:
  - match: { path: / }
    upstream: app
    request_headers:
      set: { X-Client-IP: "{client_ip}" }
upstreams:
  app:
    targets: [{ url: ${url} }]
`;

/** Every name the gateway gives the client of the answer `text` (logged under `line`). */
function names(text: string, line: Record<string, unknown>): string[] {
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  const saw = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  return [String(line.client), saw['x-client-ip'], saw['x-forwarded-for'], saw.forwarded];
}

test('::ffff:1.2.3.4 from a PROXY TCP6 header, v1 or v2, in any spelling: 1.2.3.4 in the log, {client_ip}, X-Forwarded-For and Forwarded', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startTestGateway(`name: edge-1\n${ROUTES(app.url)}`, {}, 'proxy_protocol: { from: [127.0.0.0/8] }'),
  );
  const mapped = Buffer.concat([
    Buffer.from('00000000000000000000ffff01020304', 'hex'),
    Buffer.from('00000000000000000000000000000001', 'hex'),
    Buffer.from([0xdc, 0x04, 0x01, 0xbb]),
  ]);
  const headers: [string, Buffer][] = [
    ['v1 ::ffff:1.2.3.4', Buffer.from('PROXY TCP6 ::ffff:1.2.3.4 ::1 56324 443\r\n')],
    ['v1 ::FFFF:102:304', Buffer.from('PROXY TCP6 ::FFFF:102:304 ::1 56324 443\r\n')],
    ['v1 in full', Buffer.from('PROXY TCP6 0:0:0:0:0:ffff:102:304 ::1 56324 443\r\n')],
    ['v2', v2Header(1, 0x21, mapped)],
  ];
  for (const [name, header] of headers) {
    const id = `mapped-${name.replace(/\W+/g, '-')}`;
    const text = await exchange(gw.port, Buffer.concat([header, Buffer.from(GET(id))]));
    assert.deepEqual(
      names(text, await gw.logFor(id)),
      ['1.2.3.4', '1.2.3.4', '1.2.3.4', 'for=1.2.3.4;host=app;proto=http'],
      name,
    );
  }
});

test('an IPv4 client on a dual-stack listener (::ffff:127.0.0.1 on its socket): 127.0.0.1 in the log, {client_ip}, X-Forwarded-For and Forwarded', async () => {
  const app = await echoHeaders();
  const gw = await keep(
    startGatewayFromText(`name: edge-1\nlisten:\n  - address: "[::]:0"\n${ROUTES(app.url)}`),
  );
  const text = await exchange(gw.port, Buffer.from(GET('dual-stack')));
  assert.deepEqual(names(text, await gw.logFor('dual-stack')), [
    '127.0.0.1',
    '127.0.0.1',
    '127.0.0.1',
    'for=127.0.0.1;host=app;proto=http',
  ]);
});
