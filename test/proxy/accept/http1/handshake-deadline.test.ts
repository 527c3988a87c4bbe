/**
 * A TLS listener's handshake bound counts from the accept when a stage reads the connection
 * before node:tls does (handshake-deadline.ts): here the ACME ClientHello reader of a listener
 * that orders certificates, on a real socket. Node started its own bound after the stage, so
 * a client that waited before its ClientHello had all of it again for the handshake.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../../src/kits/fault-kit/tls-certs.ts';
import { createAlpnChallengeGate } from '../../../../src/proxy/accept/alpn-challenge-gate.ts';
import { createHttp1Server } from '../../../../src/proxy/accept/http1/http1-server.ts';
import { pacedHandshake } from '../../../helpers/paced-tls.ts';

const SETTINGS = {
  headerSize: 4096,
  uriLength: 1024,
  headerTimeout: 1000,
  bodyIdleTimeout: 1000,
  keepAliveTimeout: 5000,
};

test('behind the ACME ClientHello reader, a handshake still ends within header_timeout of the accept', async (t) => {
  const certs = testCertificates();
  let served = 0;
  const server = createHttp1Server(
    () => SETTINGS,
    {
      request(exchange) {
        served++;
        const close = exchange.head.headers.some((v) => v.toLowerCase() === 'close');
        exchange.answer.sendHead(200, 'OK', [
          'content-length',
          '2',
          ...(close ? ['connection', 'close'] : []),
        ]);
        exchange.answer.write(Buffer.from('ok'));
        exchange.answer.end();
      },
      refused: () => assert.fail('nothing to refuse'),
    },
    undefined,
    { cert: certs.localhost.cert, key: certs.localhost.key },
    undefined,
    undefined,
    // No name is being validated: every ClientHello goes on to the listener's handshake.
    createAlpnChallengeGate(
      () => undefined,
      () => SETTINGS.headerTimeout,
    ),
  );
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.destroyAll('deadline');
    server.server.close();
  });
  const { port } = server.server.address() as AddressInfo;
  const request = 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
  // A quick one is served.
  const quick = await pacedHandshake(port, certs.ca, [], request);
  assert.equal(quick.secure, true);
  assert.match(quick.text, /^HTTP\/1\.1 200 /);
  assert.equal(served, 1);
  // A handshake that ended in time is done with the bound: its connection serves past it.
  const kept = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca });
  kept.on('error', () => {});
  const keptClosed = new Promise((resolve) => kept.once('close', resolve));
  let answers = '';
  kept.on('data', (c: Buffer) => {
    answers += c.toString('latin1');
  });
  await new Promise((resolve) => kept.once('secureConnect', resolve));
  kept.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 1300));
  kept.write(request);
  await keptClosed;
  assert.equal(answers.match(/HTTP\/1\.1 200 /g)?.length, 2, answers);
  assert.equal(served, 3);
  // Its ClientHello whole at 800 ms (passed on then), its second flight 700 ms after the
  // server's answer: past the 1 s since the accept, cut before the handshake ends (the client
  // thinks itself secure once it has the server's Finished; its own never arrives in time).
  const slow = await pacedHandshake(port, certs.ca, [800, 700], request);
  assert.equal(slow.text, '', 'the handshake went through after the header timeout');
  assert.equal(served, 3);
});
