/**
 * A TCP connection with no request in it never holds a drain on a TLS listener: one its client
 * closed before any ClientHello (a load balancer's TCP health check), and one left open with no
 * byte sent. The first held the drain for the whole handshake bound (limits.header_timeout, 10 s
 * by default): the listener let its client's FIN go unnoticed (half-open) until then. A plain
 * listener closes a connection with nothing of a request in it at once; so does a TLS one now.
 *
 * No time is measured: header_timeout and the drain's timeout are 10 minutes, so a drain that
 * waited for either would outlast the test's own bound many times over.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { startCandor } from './candor-process.ts';

const certs = testCertificates();

/** A TCP connection to `port`, once connected. */
function connected(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One HTTPS request on a connection of its own: its status (once answered, every earlier connection was accepted). */
function httpsStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca }, () =>
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
    );
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
  });
}

/**
 * A bound on a wait, far below the 10 minutes a held drain would take (not a measurement): past
 * it the test fails and its finally cleans up, where a bare await would hold the file open.
 */
function notWithin(ms: number): Promise<never> {
  return new Promise((_resolve, reject) => {
    setTimeout(
      () => reject(new Error(`candor had not exited ${ms} ms after SIGTERM: the drain was held`)),
      ms,
    ).unref();
  });
}

test('SIGTERM on a TLS listener: a connection closed before its ClientHello, and one with no byte sent, do not hold the drain', {
  timeout: 60_000,
}, async () => {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port: upstreamPort } = upstream.address() as net.AddressInfo;
  const open: net.Socket[] = [];
  const candor = await startCandor(
    `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:${upstreamPort}\n` +
      'limits: { header_timeout: 10m }\ndrain: { delay: 0s, timeout: 10m }\n',
    1,
    `127.0.0.1:0\n    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }`,
  ).catch(async (error: unknown) => {
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    throw error;
  });
  try {
    // The health check: connect, then close without a byte.
    const probe = await connected(candor.port);
    open.push(probe);
    probe.on('error', () => {});
    probe.end();
    // A client that connected and said nothing (yet).
    const silent = await connected(candor.port);
    open.push(silent);
    silent.on('error', () => {});
    // Accepted in order: once this one is answered, the gateway holds both.
    assert.equal(await httpsStatus(candor.port), 200);

    candor.primary.kill('SIGTERM');
    const exit = await Promise.race([candor.exited, notWithin(15_000)]);
    assert.deepEqual([exit.code, exit.signal], [0, null], candor.stderr());
    const lines = candor.lines();
    assert.ok(
      lines.some((l) => l.msg === 'drained'),
      JSON.stringify(lines.map((l) => l.msg)),
    );
    assert.equal(
      lines.some((l) => l.msg === 'drain deadline passed: connections still open were cut'),
      false,
      'nothing was left for the deadline to cut',
    );
  } finally {
    for (const socket of open) socket.destroy();
    await candor.cleanup();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
});
