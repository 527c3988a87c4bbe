/**
 * A worker that binds its own SO_REUSEPORT socket accepts through `ACCEPTORS` of them on the
 * address (src/proxy/accept/acceptors.ts): libuv accepts one connection a turn per socket, so a
 * burst is accepted several a turn. The listener's bounds stay one per listener, whichever
 * socket accepted a connection: `max_connections` (and a reload of it), the drain. Linux only,
 * where the workers bind their own sockets (listen-options.ts); `candor serve --workers 1` on a
 * fixed port, and what the kernel holds read from /proc/net/tcp (no timing is asserted).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type CertificateFiles, testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { ACCEPTORS } from '../../../src/proxy/accept/acceptors.ts';
import { h2Status } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type LoopbackServer, listenOnLoopback } from '../../helpers/loopback-server.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const linux = process.platform === 'linux';
const dir = tempDir('candor-acceptors-');
let upstream: LoopbackServer;
/** Responses the upstream holds until a test lets them go. */
const held: Array<() => void> = [];

before(async () => {
  if (!linux) return;
  upstream = await listenOnLoopback((req, res) => {
    if (req.url === '/held') held.push(() => res.end('ok'));
    else res.end('ok');
  });
});

after(async () => {
  if (!linux) return;
  await closeAll(upstream);
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, port: number, maxConnections?: number, tls?: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `name: ${name}
listen:
  - address: 127.0.0.1:${port}
${maxConnections === undefined ? '' : `    max_connections: ${maxConnections}\n`}${tls ?? ''}routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`,
  );
  return path;
}

/** TCP states from the kernel's table (include/net/tcp_states.h). */
const LISTEN = '0A';
const ESTABLISHED = '01';
const CLOSE_WAIT = '08';

/** The states of the IPv4 sockets bound to 127.0.0.1:`port` on this side (listening ones and the gateway's ends of connections). */
function socketStates(port: number): string[] {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'latin1')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === local)
    .map((fields) => fields[3] ?? '');
}

/** Connections the gateway still holds on `port` (open, or closed by the client and not yet by it). */
const gatewayConnections = (port: number) =>
  socketStates(port).filter((s) => s === ESTABLISHED || s === CLOSE_WAIT).length;

interface Client {
  readonly socket: net.Socket;
  closed: boolean;
  text: string;
}

/** `count` connections opened at once, each noting what it receives and whether it was closed. */
async function openAtOnce(port: number, count: number): Promise<Client[]> {
  const clients = Array.from({ length: count }, () => {
    const client: Client = { socket: net.connect(port, '127.0.0.1'), closed: false, text: '' };
    client.socket.on('data', (chunk: Buffer) => {
      client.text += chunk.toString('latin1');
    });
    client.socket.on('close', () => {
      client.closed = true;
    });
    client.socket.on('error', () => {});
    return client;
  });
  await Promise.all(clients.map((c) => new Promise((resolve) => c.socket.once('connect', resolve))));
  return clients;
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

/**
 * Opens 8 connections at once (on 8 sockets, some land on each of several acceptors) and checks
 * that exactly `max` are served: the others are closed as they are accepted and logged as dropped.
 */
async function exactlyServed(serve: ServeProcess, max: number): Promise<void> {
  const droppedBefore = droppedCount(serve);
  const clients = await openAtOnce(serve.port, 8);
  try {
    await waitUntil(
      `${8 - max} connections closed by the gateway`,
      () => clients.filter((c) => c.closed).length >= 8 - max,
    );
    await serve.waitForLines('connections dropped: the listener holds its max_connections', 1);
    await waitUntil('the drops reported', () => droppedCount(serve) - droppedBefore >= 8 - max, 5000);
    const open = clients.filter((c) => !c.closed);
    assert.equal(open.length, max, `${max} connections kept of 8`);
    for (const c of open) c.socket.write('GET / HTTP/1.1\r\nhost: acceptors\r\n\r\n');
    await waitUntil('every kept connection answered', () => open.every((c) => c.text.includes('\r\n\r\nok')));
    assert.deepEqual(
      open.map((c) => statusOf(c.text)),
      Array(max).fill(200),
    );
    assert.equal(droppedCount(serve) - droppedBefore, 8 - max, 'each refused connection is reported once');
    assert.equal(
      clients.filter((c) => c.closed).length,
      8 - max,
      'no kept connection was closed after answering',
    );
  } finally {
    for (const c of clients) c.socket.destroy();
    // The next burst must find the gateway holding none of these.
    await waitUntil('the gateway holding no connection', () => gatewayConnections(serve.port) === 0);
  }
}

function droppedCount(serve: ServeProcess): number {
  return serve.lines
    .filter((l) => l.msg === 'connections dropped: the listener holds its max_connections')
    .reduce((sum, l) => sum + Number(l.dropped), 0);
}

test('the worker accepts on ACCEPTORS sockets of the address; max_connections counts them all together, a reload too', {
  skip: !linux,
}, async () => {
  const port = await freePort();
  const config = writeConfig('bounded', port, 3);
  const serve = await startServe(config, 1);
  try {
    // The worker's sockets (the primary binds none: each worker binds its own).
    assert.equal(
      socketStates(port).filter((s) => s === LISTEN).length,
      ACCEPTORS,
      `${ACCEPTORS} listening sockets on the address`,
    );
    await exactlyServed(serve, 3);

    writeConfig('bounded', port, 5);
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1, 15_000);
    assert.equal(
      socketStates(port).filter((s) => s === LISTEN).length,
      ACCEPTORS,
      'a reload keeps the sockets',
    );
    await exactlyServed(serve, 5);
  } finally {
    await serve.stop();
  }
  assert.ok(!socketStates(port).includes(LISTEN), 'the worker gone, none of its sockets is left');
});

test('a drain stops accepting on every socket and waits for every connection, whichever accepted it', {
  skip: !linux,
}, async () => {
  const port = await freePort();
  const serve = await startServe(writeConfig('drained', port), 1);
  // 24 connections over 8 sockets: all of them on one is a chance of 8^-23.
  const clients = await openAtOnce(port, 24);
  let exit: Promise<number | null> | undefined;
  try {
    for (const c of clients) c.socket.write('GET /held HTTP/1.1\r\nhost: acceptors\r\n\r\n');
    await waitUntil('every request held by the upstream', () => held.length === 24);
    exit = serve.stop();
    await waitUntil('no socket listening on the address', () => !socketStates(port).includes(LISTEN));
    assert.equal(
      clients.filter((c) => c.closed).length,
      0,
      'the drain closes no connection with a request in flight',
    );
    for (const release of held.splice(0)) release();
    await waitUntil('every connection answered and closed', () => clients.every((c) => c.closed));
    assert.deepEqual(
      clients.map((c) => statusOf(c.text)),
      Array(24).fill(200),
    );
    assert.ok(
      clients.every((c) => /\r\nconnection: close\r\n/i.test(c.text) && c.text.endsWith('ok')),
      'each answered whole, told the connection closes',
    );
    assert.equal(await exit, 0);
  } finally {
    for (const release of held.splice(0)) release();
    for (const c of clients) c.socket.destroy();
    await (exit ?? serve.stop());
  }
});

test('over TLS, the connections of every acceptor get their handshake, HTTP/1.1 or HTTP/2 by ALPN, and the certificate of a reload', {
  skip: !linux,
}, async () => {
  const certs = testCertificates();
  const renewed = certificateFor(['localhost']);
  const port = await freePort();
  const tls = (files: CertificateFiles) => `    http2: true
    tls: { cert: ${files.certPath}, key: ${files.keyPath} }
`;
  const serve = await startServe(writeConfig('tls', port, undefined, tls(certs.localhost)), 1);
  /** 16 HTTP/1.1 connections at once, over the 8 sockets: each one's status and the certificate it was shown. */
  const http1Burst = () =>
    Promise.all(
      Array.from(
        { length: 16 },
        () =>
          new Promise<{ status: number; fingerprint: string }>((resolve, reject) => {
            const req = https.get(
              { host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca, agent: false },
              (res) => {
                const { fingerprint256 } = (res.socket as TLSSocket).getPeerCertificate();
                res.resume();
                res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint: fingerprint256 }));
              },
            );
            req.on('error', reject);
          }),
      ),
    );
  const fingerprintOf = (files: CertificateFiles) =>
    new X509Certificate(readFileSync(files.certPath)).fingerprint256;
  try {
    assert.equal(socketStates(port).filter((s) => s === LISTEN).length, ACCEPTORS);
    const h2 = Array.from({ length: 16 }, () =>
      h2Status(`https://127.0.0.1:${port}`, '/', { ca: certs.ca, servername: 'localhost' }),
    );
    assert.deepEqual(
      await http1Burst(),
      Array(16).fill({ status: 200, fingerprint: fingerprintOf(certs.localhost) }),
    );
    assert.deepEqual(await Promise.all(h2), Array(16).fill(200));

    writeConfig('tls', port, undefined, tls(renewed));
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1, 15_000);
    assert.deepEqual(
      await http1Burst(),
      Array(16).fill({ status: 200, fingerprint: fingerprintOf(renewed) }),
      'every acceptor hands its connections to the handshake with the reloaded certificate',
    );
  } finally {
    await serve.stop();
  }
});

test('a TLS client that hangs up as its handshake ends is let go at once, not held to the handshake bound', {
  skip: !linux,
}, async () => {
  const certs = testCertificates();
  const port = await freePort();
  const path = writeConfig(
    'tls-hangup',
    port,
    undefined,
    `    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n`,
  );
  writeFileSync(path, `${readFileSync(path, 'utf8')}limits: { header_timeout: 10m }\n`);
  const serve = await startServe(path, 1);
  try {
    // A TLS health check: it connects, sees the handshake through, and hangs up at once. Its
    // Finished may never reach the gateway; its FIN does. The acceptors' sockets were half-open
    // (as plain HTTP's are) under the handshake, so that FIN ended nothing: the gateway held the
    // connection, in CLOSE_WAIT, to header_timeout, then logged "no handshake in time".
    for (let i = 0; i < 3; i++)
      await new Promise<void>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca }, () => {
          socket.destroy();
          resolve();
        });
        socket.on('error', () => resolve());
      });
    await waitUntil('the gateway holding no connection', () => gatewayConnections(port) === 0, 10_000);
  } finally {
    await serve.stop();
  }
});
