/**
 * The TLS sessions an upstream's connector keeps, one per name and target, are bounded: targets
 * that DNS discovery replaces over days each bring a key of their own (a new address), and a
 * session no target will be offered again must not be kept for ever. Past the bound the session
 * set longest ago goes; one still in use is set again at each handshake and stays.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createConnector } from '../../../src/upstream/connections/connector.ts';

const certificates = testCertificates();
const servers: tls.Server[] = [];
/** Each server's handshakes: whether it resumed a session. */
const seen: Record<number, boolean[]> = {};
let ports: number[] = [];

before(async () => {
  for (let i = 0; i < 3; i++) {
    const server = tls.createServer(certificates.localhost, (socket) => {
      socket.on('error', () => {});
      seen[(server.address() as AddressInfo).port].push(socket.isSessionReused());
      // Written after the handshake: TLS 1.3 sends its session tickets with the first data.
      socket.end('ok');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    seen[(server.address() as AddressInfo).port] = [];
  }
  ports = servers.map((server) => (server.address() as AddressInfo).port);
});

after(() => {
  for (const server of servers) server.close();
});

const connector = () =>
  createConnector({ timeout: 5000, ca: certificates.ca, rejectUnauthorized: true, maxSessions: 2 });

/** One connection to `port`, read to its end: its session tickets come before the server's bytes. */
function handshake(connect: ReturnType<typeof createConnector>, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ hostname: 'localhost', protocol: 'https:', port: String(port) }, (err) => {
      if (err) reject(err);
    });
    socket.resume();
    socket.once('end', () => {
      socket.destroy();
      resolve();
    });
  });
}

test('past maxSessions the session set longest ago goes; the others are resumed', async () => {
  const connect = connector();
  const [a, b, c] = ports;
  for (const port of [a, b, c]) await handshake(connect, port);
  await handshake(connect, c);
  await handshake(connect, b);
  await handshake(connect, a);
  assert.deepEqual(seen[c], [false, true]);
  assert.deepEqual(seen[b], [false, true]);
  assert.deepEqual(seen[a], [false, false], "a's session went when c's came: a full handshake");
});
