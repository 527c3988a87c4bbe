/**
 * The ClientHello reader on what real clients send: node:tls's own hellos (TLS 1.2 and 1.3,
 * with and without SNI and ALPN) captured off a raw socket, and every cut of one.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { readClientHello } from '../../../src/core/tls/client-hello.ts';

/** The first bytes a node:tls client sends with these options. */
async function helloOf(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (socket) => {
      let bytes = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
          socket.destroy();
          resolve(bytes);
        }
      });
    }),
  );
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
  client.on('error', () => {});
  const bytes = await got;
  client.destroy();
  server.close();
  return bytes;
}

test('reads the server name and the ALPN protocols of a real ClientHello', async () => {
  const hello = await helloOf({ servername: 'Shop.Example.TEST', ALPNProtocols: ['acme-tls/1'] });
  assert.deepEqual(readClientHello(hello), { serverName: 'shop.example.test', alpn: ['acme-tls/1'] });
  const two = await helloOf({
    servername: 'a.test',
    ALPNProtocols: ['h2', 'http/1.1'],
    maxVersion: 'TLSv1.2',
  });
  assert.deepEqual(readClientHello(two), { serverName: 'a.test', alpn: ['h2', 'http/1.1'] });
  const bare = await helloOf({});
  assert.deepEqual(readClientHello(bare), { serverName: undefined, alpn: [] });
});

test('every cut of a hello is incomplete; other bytes are not a hello', async () => {
  const hello = await helloOf({ servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
  for (let n = 0; n < hello.length; n++)
    assert.equal(readClientHello(hello.subarray(0, n)), 'incomplete', `${n} bytes`);
  assert.equal(readClientHello(Buffer.from('GET / HTTP/1.1\r\n')), 'not-hello');
  assert.equal(
    readClientHello(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff])),
    'not-hello',
    'a record over 16 KiB',
  );
  const lying = Buffer.from(hello);
  lying.writeUIntBE(0xffffff, 6, 3); // a hello longer than its record
  assert.equal(readClientHello(lying), 'not-hello');
});
