/**
 * A reload that changes the client certificates ends each connection judged under the old ones
 * (judged-connections.ts). One waiting between pipelined requests, the next ones already read
 * (its client slow to take the answer before them), serves none of them on the old verdict: it
 * closes after what was written, and each is told unserved, for the client certificates.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import tls, { type TLSSocket } from 'node:tls';
import { markClientCertificate } from '../../../../src/core/net/client-certificate.ts';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import type { UnservedWhy } from '../../../../src/proxy/accept/http1/http1-connection-setup.ts';
import { createHttp1Server } from '../../../../src/proxy/accept/http1/http1-server.ts';
import { endJudgedConnections } from '../../../../src/proxy/accept/judged-connections.ts';
import { makeClientCa } from '../../../helpers/client-ca.ts';

const SETTINGS = {
  headerSize: 4096,
  uriLength: 1024,
  headerTimeout: 300,
  bodyIdleTimeout: 300,
  keepAliveTimeout: 400,
};

test('client certificates changed between pipelined requests: none served on the old verdict, each told unserved', async (t) => {
  const certs = testCertificates();
  const clients = makeClientCa();
  t.after(() => clients.remove());
  const big = Buffer.alloc(8 * 1024 * 1024, 'x');
  const handed: string[] = [];
  const unserved: [string, UnservedWhy][] = [];
  let ended = false;
  const server = createHttp1Server(
    () => SETTINGS,
    {
      request(exchange, connection) {
        const socket = connection.socket as TLSSocket;
        markClientCertificate(socket, {
          certificate: socket.getPeerX509Certificate(),
          refused: undefined,
          chain: [],
        });
        handed.push(exchange.head.target);
        (exchange.body ?? Readable.from([])).resume();
        const body = handed.length === 1 ? big : Buffer.from('second');
        exchange.answer.sendHead(200, 'OK', ['content-length', String(body.length)]);
        exchange.answer.write(body);
        exchange.answer.end();
        ended = true;
      },
      refused: () => assert.fail('nothing to refuse'),
      unserved(_connection, request, why) {
        unserved.push([request.head.target, why]);
      },
    },
    undefined,
    {
      cert: certs.localhost.cert,
      key: certs.localhost.key,
      requestCert: true,
      rejectUnauthorized: false,
      ca: clients.ca,
    },
  );
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.destroyAll('deadline');
    server.server.close();
  });
  const c = tls.connect({
    host: '127.0.0.1',
    port: (server.server.address() as AddressInfo).port,
    servername: 'localhost',
    ca: certs.ca,
    ...clients.issue('erin'),
  });
  c.on('error', () => {});
  t.after(() => c.destroy());
  await new Promise((resolve) => c.once('secureConnect', resolve));
  c.pause();
  let received = 0;
  c.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
  c.write(
    'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  for (let i = 0; i < 500 && !ended; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ended, 'the first answer was given');
  endJudgedConnections(server, undefined, false);
  c.resume();
  await closed;
  assert.deepEqual(handed, ['/1']);
  assert.ok(received > big.length, 'the first answer came whole');
  // (Told as the server's side of the connection closes, which may follow the client's.)
  for (let i = 0; i < 100 && unserved.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(unserved, [
    ['/2', 'client_certificates'],
    ['/3', 'client_certificates'],
  ]);
});
