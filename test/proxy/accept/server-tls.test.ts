/**
 * A listener with several certificates serves each to the SNI names it carries (wildcards
 * included), the default one otherwise, refuses protocol versions under min_version, and reads
 * every file again on a reload. Real TLS handshakes with certificates signed by a test CA.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../../src/server/gateway/gateway.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** The certificate the listener presents for `servername`, verified against the test CA. */
function handshake(
  port: number,
  servername: string | undefined,
  options: tls.ConnectionOptions = {},
): Promise<{ fingerprint: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        port,
        host: '127.0.0.1',
        servername,
        ca: testCertificates().ca,
        rejectUnauthorized: false,
        ...options,
      },
      () => {
        resolve({
          fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? '',
          protocol: socket.getProtocol(),
        });
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

describe('a listener with certificates chosen by SNI', () => {
  const dir = tempDir('candor-sni-');
  const exact = certificateFor(['api.example.com']);
  const wildcard = certificateFor(['*.example.com', 'example.com']);
  const renewed = certificateFor(['api.example.com']);
  const apiCert = join(dir, 'api.pem');
  const apiKey = join(dir, 'api.key');
  let app: Fault;
  let gateway: Gateway;
  let port: number;
  const text = () => `listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${testCertificates().localhost.certPath}
      key: ${testCertificates().localhost.keyPath}
      min_version: TLSv1.3
      certificates:
        - { cert: ${apiCert}, key: ${apiKey} }
        - { cert: ${wildcard.certPath}, key: ${wildcard.keyPath} }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`;
  before(async () => {
    copyFileSync(exact.certPath, apiCert);
    copyFileSync(exact.keyPath, apiKey);
    app = await startEcho();
    gateway = await startGateway(parseConfig(text(), '<test>', {}), {
      logger: createLoggerOn({ write: () => true }, 'silent', 'edge'),
    });
    port = gateway.listeners[0].port();
  });
  after(async () => {
    await gateway.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an exact name, then a wildcard one label deep, then the default certificate', async () => {
    assert.equal((await handshake(port, 'api.example.com')).fingerprint, fingerprint(exact.cert));
    assert.equal(
      (await handshake(port, 'API.Example.com')).fingerprint,
      fingerprint(exact.cert),
      'case-insensitive',
    );
    assert.equal(
      (await handshake(port, 'api.example.com.')).fingerprint,
      fingerprint(exact.cert),
      'a trailing dot names the same host (as the router reads Host)',
    );
    assert.equal((await handshake(port, 'www.example.com')).fingerprint, fingerprint(wildcard.cert));
    assert.equal((await handshake(port, 'example.com')).fingerprint, fingerprint(wildcard.cert));
    const deep = await handshake(port, 'a.b.example.com');
    assert.equal(
      deep.fingerprint,
      fingerprint(testCertificates().localhost.cert),
      'a wildcard covers one label',
    );
    assert.equal(
      (await handshake(port, undefined)).fingerprint,
      fingerprint(testCertificates().localhost.cert),
    );
  });

  test('a client verifying the name gets through to the upstream over the SNI certificate', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect(
        { port, host: '127.0.0.1', servername: 'www.example.com', ca: testCertificates().ca },
        () => {
          socket.write('GET /hello HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n');
        },
      );
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(app.received.at(-1)?.path, '/hello');
    assert.equal(app.received.at(-1)?.headers['x-forwarded-proto'], 'https');
  });

  test('min_version refuses an older protocol', async () => {
    assert.equal((await handshake(port, 'api.example.com')).protocol, 'TLSv1.3');
    await assert.rejects(
      handshake(port, 'api.example.com', { maxVersion: 'TLSv1.2' }),
      /protocol version|alert/i,
    );
  });

  for (const request of [
    'GET /plain-http HTTP/1.1\r\nHost: api.example.com\r\n\r\n',
    'CONNECT plain-http.example:443 HTTP/1.1\r\nHost: plain-http.example:443\r\n\r\n',
  ])
    test(`a plain HTTP request to the TLS port (${request.slice(0, request.indexOf(' '))}) is answered 400 in plain text, not closed on unanswered`, async () => {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(request);
        });
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString('latin1');
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.match(
        answer,
        /\r\nproxy-status: candor; error=http_request_error; details="a plain HTTP request sent to a TLS \(HTTPS\) listener: send it with https:\/\/"\r\n/,
      );
      assert.ok(!app.received.some((r) => r.path.includes('plain-http')), 'nothing reached the upstream');
      // The listener serves TLS on as before.
      assert.equal((await handshake(port, 'api.example.com')).protocol, 'TLSv1.3');
    });

  test('a reload reads the SNI certificates again', async () => {
    copyFileSync(renewed.certPath, apiCert);
    copyFileSync(renewed.keyPath, apiKey);
    await gateway.reload(parseConfig(text(), '<test>', {}));
    assert.equal(gateway.listeners[0].port(), port);
    assert.equal((await handshake(port, 'api.example.com')).fingerprint, fingerprint(renewed.cert));
    assert.equal((await handshake(port, 'www.example.com')).fingerprint, fingerprint(wildcard.cert));
  });
});

describe('client certificates on a listener whose certificate SNI chose', () => {
  const wildcard = certificateFor(['*.example.com']);
  const certs = testCertificates();
  let app: Fault;
  let gateway: Gateway;
  let port: number;
  before(async () => {
    app = await startEcho();
    gateway = await startGateway(
      parseConfig(
        `listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${certs.localhost.certPath}
      key: ${certs.localhost.keyPath}
      certificates:
        - { cert: ${wildcard.certPath}, key: ${wildcard.keyPath} }
      client_certificates: { ca: ${certs.caPath}, mode: optional }
routes:
  - upstream: app
    auth: { client_certificate: { subjects: [candor-gateway] } }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`,
        '<test>',
        {},
      ),
      { logger: createLoggerOn({ write: () => true }, 'silent', 'edge') },
    );
    port = gateway.listeners[0].port();
  });
  after(async () => {
    await gateway.close();
    await app.close();
  });

  /** The status line of a GET over a connection whose SNI picks the wildcard certificate. */
  const statusOver = (client: tls.ConnectionOptions) =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect(
        { port, host: '127.0.0.1', servername: 'www.example.com', ca: certs.ca, ...client },
        () => socket.write('GET /who HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text.split('\r\n')[0]));
      socket.on('error', reject);
    });

  test("the SNI certificate's context verifies the client's certificate against the listener's CA", async () => {
    const before = app.received.length;
    assert.equal(await statusOver({ cert: certs.client.cert, key: certs.client.key }), 'HTTP/1.1 200 OK');
    assert.equal(
      app.received.at(-1)?.headers['client-cert'],
      `:${new X509Certificate(certs.client.cert).raw.toString('base64')}:`,
    );
    assert.equal(
      app.received.at(-1)?.headers['client-cert-chain'],
      `:${new X509Certificate(certs.ca).raw.toString('base64')}:`,
    );
    assert.equal(await statusOver({}), 'HTTP/1.1 403 Forbidden');
    assert.equal(
      await statusOver({ cert: certs.selfSigned.cert, key: certs.selfSigned.key }),
      'HTTP/1.1 403 Forbidden',
    );
    assert.equal(app.received.length, before + 1);
  });
});
