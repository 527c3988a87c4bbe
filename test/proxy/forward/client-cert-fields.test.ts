/**
 * The fields in which a TLS terminator in front tells an app the client's certificate
 * (X-SSL-Client-Cert, X-SSL-Client-Verify, X-SSL-Client-DN, X-Client-Cert, X-ARR-ClientCert,
 * SSL_CLIENT_CERT, RFC 9440's Client-Cert, a Google Cloud load balancer's X-Client-Cert-*,
 * Cloudflare's Cf-Client-Cert-*): an app behind such a terminator takes them as its
 * word, so a client's own was a login as whoever it named. Candor checks no client certificate
 * and never writes them: a client's are dropped, in any spelling, over HTTP/1.1 and HTTP/2; a
 * proxy in `trust_forwarded_from` (the terminator in front) passes its own on, as it does
 * X-Real-IP, but never one spelled with `_`. A real upstream records what reached it.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { rawUntil } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const FORGED: readonly (readonly [string, string])[] = [
  ['X-SSL-Client-Cert', '-----BEGIN%20CERTIFICATE-----forged'],
  ['X-SSL-Client-Verify', 'SUCCESS'],
  ['X-SSL-Client-DN', 'CN=admin'],
  ['X-SSL-Client-S-DN', 'CN=admin'],
  ['X-Client-Cert', 'forged'],
  ['X-ARR-ClientCert', 'forged'],
  ['SSL-Client-Cert', 'forged'],
  ['Client-Cert', ':Zm9yZ2Vk:'],
  ['Client-Cert-Chain', ':Zm9yZ2Vk:'],
  ['X-Amzn-Mtls-Clientcert-Subject', 'CN=admin'],
  // A Google Cloud load balancer's mTLS custom headers, as its documentation names them.
  ['X-Client-Cert-Present', 'true'],
  ['X-Client-Cert-Chain-Verified', 'true'],
  ['X-Client-Cert-Error', ''],
  ['X-Client-Cert-Hash', 'Zm9yZ2Vk'],
  ['X-Client-Cert-Subject-DN', 'Q049YWRtaW4='],
  ['X-Client-Cert-Issuer-DN', 'Q049Q0E='],
  ['X-Client-Cert-Serial-Number', '01'],
  ['X-Client-Cert-Not-Before', 'Jan  1 00:00:00 2025 GMT'],
  ['X-Client-Cert-Not-After', 'Jan  1 00:00:00 2035 GMT'],
  ['X-Client-Cert-Spiffe', 'spiffe://example.org/admin'],
  ['X-Client-Cert-Uri-Sans', 'spiffe://example.org/admin'],
  ['X-Client-Cert-Dnsname-Sans', 'admin.example.org'],
  ['X-Client-Cert-Leaf', 'Zm9yZ2Vk'],
  ['X-Client-Cert-Chain', 'Zm9yZ2Vk'],
  // Cloudflare's client_certificate_forwarding.
  ['Cf-Client-Cert-Der-Base64', 'Zm9yZ2Vk'],
  ['Cf-Client-Cert-Sha256', 'Zm9yZ2Vk'],
];
/** The same fields spelled as a CGI-style server reads them. */
const UNDERSCORED: readonly (readonly [string, string])[] = [
  ['SSL_CLIENT_CERT', 'forged'],
  ['X_SSL_Client_Verify', 'SUCCESS'],
  ['X-SSL_Client-DN', 'CN=admin'],
  ['x_arr_clientcert', 'forged'],
  ['X_Client_Cert_Present', 'true'],
  ['cf_client_cert_sha256', 'Zm9yZ2Vk'],
];

const isCertField = (name: string) =>
  /^(x[-_]ssl[-_]client|x[-_]client[-_](cert|dn|verify)|x[-_]arr[-_]clientcert|ssl[-_]client|client[-_]cert|x-amzn-mtls|cf[-_]client[-_]cert)/i.test(
    name,
  );
const head = (fields: readonly (readonly [string, string])[]) =>
  fields.map(([name, value]) => `${name}: ${value}\r\n`).join('');
const answered = (text: string) => /\r\n\r\n[\s\S]*\}\s*$/.test(text);

/** What reached `app` last has no client-certificate field, and the client's other field. */
function assertNoneReached(app: Fault): void {
  const seen = app.received.at(-1);
  assert.ok(seen);
  assert.deepEqual(
    seen.rawHeaders.filter(([name]) => isCertField(name)),
    [],
  );
  assert.equal(seen.headers['x-custom'], 'kept');
}

test('a client’s client-certificate fields never reach the upstream over HTTP/1.1, in any spelling', async () => {
  const app = await keep(startEcho());
  const gw = await keep(startTestGateway(singleUpstream(app.url)));
  const text = await rawUntil(
    gw.port,
    `GET /me HTTP/1.1\r\nHost: x\r\n${head(FORGED)}${head(UNDERSCORED)}X-Custom: kept\r\nConnection: close\r\n\r\n`,
    answered,
  );
  assert.match(text, /^HTTP\/1\.1 200 /);
  assertNoneReached(app);
});

test('nor over HTTP/2', async () => {
  const app = await keep(startEcho());
  const gw = await keep(startTestGateway(singleUpstream(app.url), {}, 'http2: true'));
  const session = http2.connect(gw.url);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = { ':path': '/me', 'x-custom': 'kept' };
      for (const [name, value] of [...FORGED, ...UNDERSCORED]) headers[name.toLowerCase()] = value;
      const stream = session.request(headers);
      stream.on('response', (h) => {
        stream.resume();
        stream.on('end', () => resolve(Number(h[':status'])));
      });
      stream.on('error', reject);
    });
    assert.equal(status, 200);
  } finally {
    session.close();
  }
  assertNoneReached(app);
});

test('a proxy in trust_forwarded_from (the TLS terminator in front) passes its own on, never one spelled with _', async () => {
  const app = await keep(startEcho());
  const gw = await keep(
    startTestGateway(singleUpstream(app.url, { extra: 'trust_forwarded_from: [127.0.0.1]' })),
  );
  const text = await rawUntil(
    gw.port,
    `GET /me HTTP/1.1\r\nHost: x\r\n${head(FORGED)}${head(UNDERSCORED)}Connection: close\r\n\r\n`,
    answered,
  );
  assert.match(text, /^HTTP\/1\.1 200 /);
  const seen = app.received.at(-1);
  assert.ok(seen);
  assert.deepEqual(
    seen.rawHeaders.filter(([name]) => isCertField(name)),
    FORGED.map(([name, value]) => [name, value]),
  );
});

test("a plugin's Client-Cert and Client-Cert-Chain are dropped (RFC 9440's, the gateway's to write), the trusted proxy's kept; deleting them is its choice", async () => {
  const app = await keep(startEcho());
  const certs: Plugin = () => ({
    onRequest(request) {
      if (request.path === '/set') {
        request.headers.set('client-cert', ':cGx1Z2lu:');
        request.headers.set('client-cert-chain', ':cGx1Z2lu:');
      } else request.headers.delete('client-cert');
    },
  });
  const yaml = `plugins:
  certs: { module: /nonexistent/never-imported.ts }
routes:
  - { match: { path: / }, upstream: app, plugins: [certs] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
trust_forwarded_from: [127.0.0.1]
`;
  const gw = await keep(startTestGateway(yaml, {}, '', { plugins: { certs } }));
  const sent = 'Client-Cert: :ZnJvbnQ=:\r\nClient-Cert-Chain: :ZnJvbnQ=:\r\n';
  for (const [path, expected] of [
    [
      '/set',
      [
        ['Client-Cert', ':ZnJvbnQ=:'],
        ['Client-Cert-Chain', ':ZnJvbnQ=:'],
      ],
    ],
    ['/delete', [['Client-Cert-Chain', ':ZnJvbnQ=:']]],
  ] as const) {
    const text = await rawUntil(
      gw.port,
      `GET ${path} HTTP/1.1\r\nHost: x\r\n${sent}Connection: close\r\n\r\n`,
      answered,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    const seen = app.received.at(-1);
    assert.ok(seen);
    assert.deepEqual(
      seen.rawHeaders.filter(([name]) => /^client-cert/i.test(name)),
      expected.map(([name, value]) => [name, value]),
      path,
    );
  }
});
