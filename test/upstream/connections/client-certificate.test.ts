/**
 * upstreams.*.tls.cert and key: a target that requires a client certificate (mTLS) gets the
 * configured one, verified as today (its own certificate checked against tls.ca); without it,
 * the handshake ends in the alert the failure contract names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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

test('a target that requires a client certificate is reached with the configured one', async () => {
  const fault = await startClientCertificateRequired({ maxVersion: 'TLSv1.2' });
  const { client } = fault.certificates;
  const gw = await startTestGateway(
    config(fault.url, fault.caPath, `      cert: ${client.certPath}\n      key: ${client.keyPath}\n`),
  );
  try {
    const res = await request(gw.url, { path: '/mtls' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['proxy-status'], undefined);
    assert.equal(fault.received.at(-1)?.path, '/mtls');
    assert.deepEqual(fault.tlsErrors, []);
  } finally {
    await gw.close();
    await fault.close();
  }
});

test('without a client certificate the same target refuses the handshake: 502 tls_alert_received', async () => {
  const fault = await startClientCertificateRequired({ maxVersion: 'TLSv1.2' });
  const gw = await startTestGateway(config(fault.url, fault.caPath));
  try {
    const res = await request(gw.url, { path: '/mtls' });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=tls_alert_received; /);
    assert.equal(fault.received.length, 0);
  } finally {
    await gw.close();
    await fault.close();
  }
});

test('over TLS 1.3 too (the alert comes after the request went out): 502 tls_alert_received, alert-id=116 certificate_required', async () => {
  // TLS 1.3 (the default): the gateway's side of the handshake is over before the server reads
  // its (missing) certificate, so the alert arrives after the request was written (issue 31, item 10).
  const fault = await startClientCertificateRequired();
  const gw = await startTestGateway(config(fault.url, fault.caPath));
  try {
    const res = await request(gw.url, { path: '/mtls13', headers: { 'x-request-id': 'tls13-alert' } });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=tls_alert_received; alert-id=116; alert-message="certificate_required"; details="TLS alert certificate_required received after [0-9.]+ ms"; next-hop="app"$/,
    );
    assert.equal(fault.received.length, 0, 'the upstream never took the request');
    const line = await gw.logFor('tls13-alert');
    assert.equal(line.error, 'tls_alert_received');
    assert.equal(line.stage, 'not_sent', 'a refused handshake: the upstream never took the request');
  } finally {
    await gw.close();
    await fault.close();
  }
});
