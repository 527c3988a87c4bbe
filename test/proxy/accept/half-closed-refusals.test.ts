/**
 * Every close path has a deadline (README, "Hostile peers"): a client that sends part of a
 * head, then neither reads nor closes, gets its 408 and the gateway's FIN, and LINGER_MS
 * later its socket is destroyed whatever the client does; it cannot hold `max_connections`
 * (the socket would otherwise wait in FIN-WAIT-2 for a FIN that never comes). Nor can a TLS
 * client that stalls its handshake: it is cut at header_timeout, not Node's 120 s.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { test } from 'node:test';
import { LINGER_MS } from '../../../src/core/net/linger.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import {
  listenerConnections,
  singleUpstream,
  startGatewayFromText,
  startTestGateway,
} from '../../helpers/test-gateway.ts';

const HEADER_TIMEOUT_MS = 300;

test('half-closed 408s: a client that sends 25 bytes of a head, then neither reads nor closes, is cut within header_timeout + LINGER_MS', async (t) => {
  const attackers: net.Socket[] = [];
  // First: the gateway's close waits for every connection.
  t.after(() => {
    for (const s of attackers) s.destroy();
  });
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `${singleUpstream(upstream.url)}\nlimits: { header_timeout: ${HEADER_TIMEOUT_MS}ms }\n`,
    {},
    'max_connections: 2',
  );
  t.after(() => gw.close());
  const connections = () => listenerConnections(gw);

  for (let i = 0; i < 2; i++) {
    const s = net.connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => {});
    s.pause(); // never reads (so never sees the gateway's FIN) and never closes
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    s.write('GET / HTTP/1.1\r\nHost: a\r\n'.slice(0, 25));
    attackers.push(s);
  }
  assert.equal(await connections(), 2, 'the two attackers hold the listener');

  // The bound: the 408 at header_timeout (checked every quarter of it), then LINGER_MS.
  const deadline = performance.now() + HEADER_TIMEOUT_MS * 1.25 + LINGER_MS + 1_000;
  while ((await connections()) > 0 && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(await connections(), 0, 'both sockets destroyed within the deadline');

  // And the slots they held serve others again.
  const res = await request(gw.url, { path: '/after' });
  assert.equal(res.status, 200);
  const refused = gw.logs.filter((l) => l.msg === 'request' && l.status === 408);
  assert.equal(refused.length, 2, 'each attacker got its 408, logged');
});

test('TLS handshakes that stall (a partial ClientHello, or nothing) hold max_connections no longer than header_timeout', async (t) => {
  const attackers: net.Socket[] = [];
  t.after(() => {
    for (const s of attackers) s.destroy();
  });
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const certs = testCertificates();
  const gw = await startGatewayFromText(
    `listen:\n  - address: 127.0.0.1:0\n    max_connections: 2\n    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n` +
      `${singleUpstream(upstream.url)}\nlimits: { header_timeout: ${HEADER_TIMEOUT_MS}ms }\n`,
  );
  t.after(() => gw.close());
  const connections = () => listenerConnections(gw);
  for (const first of [Buffer.from('160301', 'hex'), Buffer.alloc(0)]) {
    const s = net.connect({ port: gw.port, host: '127.0.0.1' });
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    if (first.length > 0) s.write(first);
    attackers.push(s);
  }
  while ((await connections()) < 2) await new Promise((r) => setTimeout(r, 10));

  // Node's own handshake timeout is 120 s: the listener's header_timeout is the bound.
  const deadline = performance.now() + HEADER_TIMEOUT_MS * 1.25 + 5_000;
  while ((await connections()) > 0 && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(await connections(), 0, 'both stalled handshakes were cut');

  const res = await new Promise<number>((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port: gw.port, path: '/after', ca: certs.ca, servername: 'localhost' },
      (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      },
    );
    req.on('error', reject);
  });
  assert.equal(res, 200);
});
