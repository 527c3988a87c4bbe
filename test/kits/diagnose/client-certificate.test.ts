/**
 * `candor diagnose --config FILE NAME` probes "with the request and timeouts the gateway would
 * use": for an upstream that requires a client certificate (mTLS), the one its
 * `tls.cert`/`tls.key` give, which the gateway presents. Without it the probe met the alert the
 * gateway never meets, and said the upstream fails (exit 2) while every request through the
 * gateway got its 200.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { startClientCertificateRequired } from '../../../src/kits/fault-kit/tls-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const config = (url: string, caPath: string, client = '') => `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${url} }]
    retries: { attempts: 1 }
    tls:
      ca: ${caPath}
${client}`;

for (const maxVersion of ['TLSv1.2', undefined] as const) {
  test(`an mTLS upstream with tls.cert and key (${maxVersion ?? 'TLS 1.3'}): diagnose presents them, as the gateway does`, async () => {
    const fault = await startClientCertificateRequired({ maxVersion });
    const { client } = fault.certificates;
    const gw = await startTestGateway(
      config(fault.url, fault.caPath, `      cert: ${client.certPath}\n      key: ${client.keyPath}\n`),
    );
    try {
      assert.equal((await request(gw.url, { path: '/mtls' })).status, 200, 'the gateway gets through');
      const report = await diagnose({ target: 'app', config: gw.gateway.runtime().config, path: '/probe' });
      const { verdict } = report.targets[0];
      assert.equal(verdict.outcome, 'ok', verdict.summary);
      assert.equal(verdict.status, 200);
      assert.equal(report.exitCode, 0);
      assert.doesNotMatch(
        JSON.stringify(report),
        /PRIVATE KEY/,
        'the key is presented, never reported (--json)',
      );
      assert.deepEqual(
        fault.received.map((r) => r.path),
        ['/mtls', '/probe'],
      );
      // (Its protocol check's handshake offering h2 alone is refused by ALPN: no certificate fault.)
      assert.deepEqual(
        fault.tlsErrors.filter((e) => /certificate/i.test(e.message)),
        [],
      );
    } finally {
      await gw.close();
      await fault.close();
    }
  });
}

test('a URL of that upstream is probed with its client certificate too', async () => {
  const fault = await startClientCertificateRequired({ maxVersion: 'TLSv1.2' });
  const { client } = fault.certificates;
  const gw = await startTestGateway(
    config(fault.url, fault.caPath, `      cert: ${client.certPath}\n      key: ${client.keyPath}\n`),
  );
  try {
    const report = await diagnose({ target: `${fault.url}/by-url`, config: gw.gateway.runtime().config });
    assert.equal(report.targets[0].verdict.outcome, 'ok', report.targets[0].verdict.summary);
    assert.equal(fault.received.at(-1)?.path, '/by-url');
  } finally {
    await gw.close();
    await fault.close();
  }
});

for (const [maxVersion, alert, fix] of [
  [
    'TLSv1.2',
    'handshake_failure',
    'the upstream ended the TLS handshake with the alert "handshake_failure": under TLS 1.2 an upstream that requires a client certificate (mTLS) says so when none comes, and the gateway presents none (no tls.cert). If it uses mTLS, give the upstream tls.cert and tls.key; else check its protocol versions and ciphers.',
  ],
  [
    undefined,
    'certificate_required',
    'the upstream ended the TLS handshake with the alert "certificate_required": it requires a client certificate (mTLS), and the gateway presents none. Give the upstream tls.cert and tls.key, a certificate from a CA the upstream trusts.',
  ],
] as const)
  test(`without tls.cert the same upstream refuses the probe as it refuses the gateway (${maxVersion ?? 'TLS 1.3'}): tls_alert_received, the fix naming tls.cert`, async () => {
    const fault = await startClientCertificateRequired({ maxVersion });
    const gw = await startTestGateway(config(fault.url, fault.caPath));
    try {
      assert.equal((await request(gw.url, { path: '/mtls' })).status, 502);
      const report = await diagnose({ target: 'app', config: gw.gateway.runtime().config });
      const { verdict } = report.targets[0];
      assert.equal(verdict.failure?.type, 'tls_alert_received');
      assert.equal(verdict.failure?.alertMessage, alert);
      assert.equal(verdict.fix, fix);
      assert.equal(report.exitCode, 2);
      assert.equal(fault.received.length, 0);
    } finally {
      await gw.close();
      await fault.close();
    }
  });
