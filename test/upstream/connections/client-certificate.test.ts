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
