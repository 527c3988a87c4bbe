/**
 * listen[].proxy_protocol beside trust_forwarded_from, on real sockets: after a header that
 * names no client (v2 LOCAL, v1 UNKNOWN) the balancer's own address stands as the client. A
 * balancer listed only in `from` is no trusted proxy: a forged X-Forwarded-For behind such a
 * header is replaced. Listed in trust_forwarded_from too, its connections' X-Forwarded-For is
 * believed, as that list says, whoever wrote it: `candor check` warns of the overlap
 * (test/core/config/proxy-trust-overlap.test.ts).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { v2Header } from '../../helpers/proxy-header.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** Writes a header and a request in one write; the upstream's echoed request headers. */
function send(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

const FORGED = '203.0.113.66';
const request = (id: string) =>
  `GET /who HTTP/1.1\r\nHost: app\r\nX-Request-Id: ${id}\r\nX-Forwarded-For: ${FORGED}\r\nConnection: close\r\n\r\n`;

const HEADERS: [string, Buffer][] = [
  ['v2 LOCAL', v2Header(0, 0x00, Buffer.alloc(0))],
  ['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN\r\n')],
];

async function gatewayWith(trust: string): Promise<TestGateway> {
  const app = await keep(
    listenOnLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
    }),
  );
  return keep(
    startTestGateway(`${trust}${singleUpstream(app.url)}`, {}, 'proxy_protocol: { from: [127.0.0.0/8] }'),
  );
}

async function upstreamSaw(gw: TestGateway, header: Buffer, id: string): Promise<Record<string, string>> {
  const text = await send(gw.port, Buffer.concat([header, Buffer.from(request(id))]));
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

describe('a balancer in proxy_protocol.from alone', () => {
  let gw: TestGateway;
  test('setup', async () => {
    gw = await gatewayWith('');
  });
  for (const [name, header] of HEADERS)
    test(`${name}, then a forged X-Forwarded-For: the balancer is the client, the forgery is not passed on`, async () => {
      const id = `alone-${name.replace(/\W+/g, '-')}`;
      const saw = await upstreamSaw(gw, header, id);
      assert.equal(saw['x-forwarded-for'], '127.0.0.1');
      assert.equal(saw.forwarded, 'for=127.0.0.1;host=app;proto=http');
      assert.equal((await gw.logFor(id)).client, '127.0.0.1');
    });
});

describe('a balancer in proxy_protocol.from and trust_forwarded_from', () => {
  let gw: TestGateway;
  test('setup', async () => {
    gw = await gatewayWith('trust_forwarded_from: [127.0.0.1]\n');
  });
  for (const [name, header] of HEADERS)
    test(`${name}, then a client's X-Forwarded-For: believed, as the trust list says (check warns of it)`, async () => {
      const id = `both-${name.replace(/\W+/g, '-')}`;
      const saw = await upstreamSaw(gw, header, id);
      assert.equal(saw['x-forwarded-for'], `${FORGED}, 127.0.0.1`);
      // The log's client stays the connection's (trust_forwarded_from).
      assert.equal((await gw.logFor(id)).client, '127.0.0.1');
    });
});
