/**
 * The TLS-ALPN-01 gate (alpn-challenge-gate.ts) on a real socket: a ClientHello offering only
 * `acme-tls/1` waits for its lookup (in a fleet, a GET to Redis), and a client that resets its
 * connection meanwhile must cost that connection only. The socket had no `error` listener while
 * it waited: the reset was an uncaught ECONNRESET, which took the worker down with every
 * connection it served.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { createAlpnChallengeGate } from '../../../src/proxy/accept/alpn-challenge-gate.ts';

/** A ClientHello for `servername` offering only acme-tls/1, as a CA's validation sends it. */
function validationHello(servername: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.once('data', (hello) => {
        resolve(hello);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      tls
        .connect({ port, host: '127.0.0.1', servername, ALPNProtocols: ['acme-tls/1'] })
        .on('error', () => {});
    });
  });
}

test('a client that resets while its validation is looked up costs its connection only, not the process', async () => {
  const hello = await validationHello('shop.example.test');
  let asked!: () => void;
  const lookedUp = new Promise<void>((resolve) => {
    asked = resolve;
  });
  let answer!: (context: tls.SecureContext | undefined) => void;
  const gate = createAlpnChallengeGate(
    () =>
      new Promise((resolve) => {
        answer = resolve;
        asked();
      }),
    () => 10_000,
  );
  const passed: net.Socket[] = [];
  const closed = new Promise<void>((resolve) => {
    const server = net.createServer((socket) => {
      socket.once('close', () => {
        server.close();
        resolve();
      });
      gate.admit(socket, (admitted) => passed.push(admitted));
    });
    server.listen(0, '127.0.0.1', async () => {
      const { port } = server.address() as net.AddressInfo;
      const client = net.connect(port, '127.0.0.1', () => client.write(hello));
      await lookedUp;
      client.resetAndDestroy();
    });
  });
  await closed;
  // The lookup answers after the connection is gone: nothing is passed on for it.
  answer(undefined);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(passed.length, 0);
});

test('a connection closed elsewhere while its hello is awaited (a drain, the connection limit) lets go of it at once', async () => {
  // Its timer and listeners stayed until the hello timeout (10 s by default), holding the
  // socket; the PROXY gate lets go on 'close', and so does this one now.
  const gate = createAlpnChallengeGate(
    () => undefined,
    () => 600_000,
  );
  const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
  const { server, socket, client } = await new Promise<{
    server: net.Server;
    socket: net.Socket;
    client: net.Socket;
  }>((resolve) => {
    const server = net.createServer((socket) => resolve({ server, socket, client }));
    let client!: net.Socket;
    server.listen(0, '127.0.0.1', () => {
      client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      client.on('error', () => {});
    });
  });
  try {
    const before = timers();
    const listeners = () => ['data', 'end', 'error', 'close'].map((event) => socket.listenerCount(event));
    const own = listeners();
    gate.admit(socket, () => assert.fail('passed on without a hello'));
    assert.equal(timers(), before + 1, 'the hello timeout is armed');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.destroy();
    await closed;
    assert.equal(timers(), before, 'the hello timeout is cleared');
    assert.deepEqual(listeners(), own, "the gate's listeners are gone");
  } finally {
    client.destroy();
    server.close();
  }
});
