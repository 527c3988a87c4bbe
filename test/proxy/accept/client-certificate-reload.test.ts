/**
 * A reload that changes a listener's client CAs or revocation lists ends the connections whose
 * certificate was judged under the old ones: OpenSSL verified it once, in the handshake, so a
 * kept-alive connection (HTTP/1.1) or session (HTTP/2) of a certificate revoked since would go on
 * passing. Each closes once its request in flight is answered (an idle one at once, HTTP/2 by
 * GOAWAY); its client's next connection is judged under the new list. A handshake the reload
 * met under way (judged by the old list, in the context it began with) is closed as it ends.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

const server = testCertificates();
let clients: ClientCa;
let app: Fault;
let gw: TestGateway;

const config = () => `listen:
  - address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: optional }
routes:
  - match: { path: /secure }
    upstream: app
    auth:
      client_certificate: {}
upstreams:
  app:
    targets:
      - url: ${app.url}
`;

before(async () => {
  clients = makeClientCa();
  app = await startEcho();
  gw = await startGatewayFromText(config());
});

after(async () => {
  await closeAll(gw, app);
  clients?.remove();
});

/** What came back on `socket` until it closed, or until `ms` passed (it stays open then). */
function readUntilClosed(socket: tls.TLSSocket, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
    };
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on('data', onData);
    socket.once('close', () => done(true));
  });
}

test('HTTP/1.1: a kept-alive connection of a certificate revoked by a reload is closed, not served again', async () => {
  const who = clients.issue('dave');
  const socket = tls.connect({
    host: '127.0.0.1',
    port: gw.port,
    servername: 'localhost',
    ca: server.ca,
    ALPNProtocols: ['http/1.1'],
    ...who,
  });
  socket.on('error', () => {});
  try {
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const request = 'GET /secure HTTP/1.1\r\nhost: localhost\r\n\r\n';
    socket.write(request);
    const first = await new Promise<string>((resolve) =>
      socket.once('data', (c: Buffer) => resolve(String(c))),
    );
    assert.match(first, /^HTTP\/1\.1 200 /);
    const reached = app.received.length;
    clients.revoke('dave');
    await gw.gateway.reload(parseConfig(config(), '<test>', {}));
    const after = readUntilClosed(socket, 3000);
    // Sent after the reload, on the connection judged before it: never served as verified.
    if (!socket.destroyed) socket.write(request);
    const { text, closed } = await after;
    assert.equal(closed, true, `the connection stayed open; it answered: ${text}`);
    assert.doesNotMatch(text, /HTTP\/1\.1 200 /);
    assert.equal(app.received.length, reached);
  } finally {
    socket.destroy();
  }
  // Its next connection is judged under the new list.
  const again = tls.connect({
    host: '127.0.0.1',
    port: gw.port,
    servername: 'localhost',
    ca: server.ca,
    ...who,
  });
  again.on('error', () => {});
  try {
    await new Promise((resolve) => again.once('secureConnect', resolve));
    again.write('GET /secure HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
    const { text } = await readUntilClosed(again, 3000);
    assert.match(text, /^HTTP\/1\.1 403 /);
    assert.match(text, /it has been revoked/);
  } finally {
    again.destroy();
  }
});

test('HTTP/2: a session of a certificate revoked by a reload is told GOAWAY, and its next stream is not served', async () => {
  const who = clients.issue('erin');
  const session = http2.connect(`https://localhost:${gw.port}`, {
    host: '127.0.0.1',
    servername: 'localhost',
    ca: server.ca,
    ...who,
  });
  session.on('error', () => {});
  const ask = () =>
    new Promise<number>((resolve) => {
      const stream = session.request({ ':path': '/secure' });
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('error', () => resolve(0));
      stream.on('close', () => resolve(status));
      stream.resume();
      stream.end();
    });
  try {
    assert.equal(await ask(), 200);
    const reached = app.received.length;
    const goaway = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      session.once('goaway', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    clients.revoke('erin');
    await gw.gateway.reload(parseConfig(config(), '<test>', {}));
    assert.equal(await goaway, true, 'no GOAWAY after the reload');
    assert.notEqual(session.closed || session.destroyed ? 0 : await ask(), 200);
    assert.equal(app.received.length, reached);
  } finally {
    session.destroy();
  }
});

test('a handshake under way across the reload that revokes its certificate is not judged by the old list', async () => {
  const who = clients.issue('frank');
  const raw = net.connect(gw.port, '127.0.0.1');
  raw.on('error', () => {});
  const closed = new Promise((resolve) => raw.once('close', resolve));
  await new Promise((resolve) => raw.once('connect', resolve));
  // The client's second flight (its certificate, its proof, its Finished: TLS 1.3) held until
  // the reload: the server made the connection, and chose its context, before it.
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let writes = 0;
  const gated = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (writes++ === 0) return void raw.write(chunk, callback);
      void released.then(() => raw.write(chunk, callback));
    },
  });
  let flightHeld!: () => void;
  const held = new Promise<void>((resolve) => {
    flightHeld = resolve;
  });
  raw.on('data', (chunk: Buffer) => {
    gated.push(chunk);
    // The server's flight came (its CertificateRequest with it): the client answers next.
    flightHeld();
  });
  raw.once('close', () => gated.push(null));
  const socket = tls.connect({
    socket: gated as unknown as net.Socket,
    servername: 'localhost',
    ca: server.ca,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['http/1.1'],
    ...who,
  });
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.once('secureConnect', () =>
    socket.write('GET /secure HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n'),
  );
  try {
    const reached = app.received.length;
    await held;
    clients.revoke('frank');
    await gw.gateway.reload(parseConfig(config(), '<test>', {}));
    release();
    // Bounded: a connection left open fails the test rather than hanging it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    assert.doesNotMatch(text, /HTTP\/1\.1 200 /, `served on the old list's verdict: ${text}`);
    assert.equal(app.received.length, reached);
  } finally {
    socket.destroy();
    raw.destroy();
  }
});
