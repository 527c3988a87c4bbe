/**
 * A reload that revokes a client certificate ends the connections judged under the old list
 * (client-certificate-reload.test.ts): a WebSocket tunnel opened on such a connection too. A
 * tunnel has no answer in flight to close after, and would otherwise carry the revoked client's
 * messages for as long as it keeps talking (tunnel_idle is a bound on silence only). Its sides
 * are told with a Close frame (1001, going away: the client reconnects, and its new handshake is
 * judged under the new list), then both close, and the log line says why.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const server = testCertificates();
let clients: ClientCa;
let gw: TestGateway;
let app: net.Server;
let appPort = 0;
/** Each tunnel's upstream side: what it got, and whether it closed. */
const upstreamSides: { got: Buffer[]; closed: boolean }[] = [];
/** While set, the app holds its 101 until it settles (and says when the upgrade request came). */
let holding: { came: () => void; gate: Promise<void> } | undefined;

/** A text frame (RFC 6455 §5.2), masked with `mask` when it is given (a client's). */
function textFrame(text: string, mask?: Buffer): Buffer {
  const payload = Buffer.from(text);
  if (mask === undefined) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const masked = payload.map((byte, i) => byte ^ mask[i % 4]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}
const MASK = Buffer.from([1, 2, 3, 4]);

const config = () => `listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: optional }
routes:
  - match: { path: /chat }
    upstream: app
    auth:
      client_certificate: {}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${appPort}
`;

before(async () => {
  clients = makeClientCa();
  // A WebSocket app: switches, then echoes what it gets.
  app = net.createServer((socket) => {
    const side = { got: [] as Buffer[], closed: false };
    upstreamSides.push(side);
    socket.on('error', () => {});
    socket.on('close', () => {
      side.closed = true;
    });
    socket.once('data', async () => {
      const held = holding;
      if (held !== undefined) {
        held.came();
        await held.gate;
      }
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (chunk: Buffer) => {
        side.got.push(chunk);
        if (chunk.includes(textFrame('ping', MASK))) socket.write(textFrame('pong'));
      });
    });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appPort = (app.address() as net.AddressInfo).port;
  gw = await startGatewayFromText(config());
});

after(async () => {
  await gw?.close();
  await new Promise((resolve) => app?.close(resolve));
  clients?.remove();
});

test('a WebSocket tunnel of a certificate a reload revoked is closed, its sides told 1001, and what its client sends after never reaches the app', async () => {
  const who = clients.issue('erin');
  const socket = tls.connect({
    host: '127.0.0.1',
    port: gw.port,
    servername: 'localhost',
    ca: server.ca,
    ALPNProtocols: ['http/1.1'],
    ...who,
  });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  try {
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write(
      'GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: erin-ws\r\n\r\n',
    );
    const received = () => Buffer.concat(chunks).toString('latin1');
    for (let i = 0; i < 100 && !received().includes('\r\n\r\n'); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.match(received(), /^HTTP\/1\.1 101 /);
    socket.write(textFrame('ping', MASK));
    for (let i = 0; i < 100 && !received().endsWith('pong'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(received().endsWith('pong'), 'the tunnel works before the reload');

    clients.revoke('erin');
    await gw.gateway.reload(parseConfig(config(), '<test>', {}));
    // Sent after the reload, through the tunnel judged before it.
    if (!socket.destroyed) socket.write(textFrame('after the revocation', MASK));
    assert.equal(await closed, true, 'the tunnel of a revoked certificate stayed open');
    const side = upstreamSides[0];
    for (let i = 0; i < 50 && !side.closed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(side.closed, true, "the tunnel's upstream side closed too");
    const upstreamGot = Buffer.concat(side.got);
    assert.equal(upstreamGot.includes(textFrame('after the revocation', MASK)), false);
    // The app was told too: a masked Close frame, 1001.
    assert.deepEqual([...upstreamGot.subarray(-8, -6)], [0x88, 0x82]);
    // Told before the close: an unmasked Close frame, status 1001 (going away).
    const last = Buffer.concat(chunks);
    assert.deepEqual([...last.subarray(-4)], [0x88, 0x02, 0x03, 0xe9]);
    const line = await gw.logFor('erin-ws');
    assert.equal(line.status, 101);
    assert.equal(line.tunnel_closed_by, 'client_certificates');
  } finally {
    socket.destroy();
  }
});

test('an upgrade waiting for its 101 when a reload revokes its certificate: the tunnel that 101 opens is cut as it opens', async () => {
  const who = clients.issue('frank');
  let came = (): void => {};
  let open = (): void => {};
  const requested = new Promise<void>((resolve) => {
    came = resolve;
  });
  holding = {
    came,
    gate: new Promise<void>((resolve) => {
      open = resolve;
    }),
  };
  const sidesBefore = upstreamSides.length;
  const socket = tls.connect({
    host: '127.0.0.1',
    port: gw.port,
    servername: 'localhost',
    ca: server.ca,
    ALPNProtocols: ['http/1.1'],
    ...who,
  });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  try {
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write(
      'GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: frank-ws\r\n\r\n',
    );
    await requested;
    clients.revoke('frank');
    await gw.gateway.reload(parseConfig(config(), '<test>', {}));
    holding = undefined;
    open();
    assert.equal(await closed, true, 'the tunnel the 101 opened after the revocation stayed open');
    const side = upstreamSides[sidesBefore];
    for (let i = 0; i < 50 && !side.closed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(side.closed, true, "the tunnel's upstream side closed too");
    const text = Buffer.concat(chunks).toString('latin1');
    // (Its Close frame is best effort here: none goes while the 101 head still waits unsent.)
    assert.match(text, /^HTTP\/1\.1 101 /);
    const line = await gw.logFor('frank-ws');
    assert.equal(line.status, 101);
    assert.equal(line.tunnel_closed_by, 'client_certificates');
  } finally {
    holding = undefined;
    open();
    socket.destroy();
  }
});
