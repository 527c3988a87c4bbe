/**
 * A renewal names the certificate it replaces (RFC 9773 §5), and a CA refuses a second order
 * that names one already replaced (`alreadyReplaced`): say an earlier order was finalized and
 * its certificate never landed here (its download failed, the gateway stopped). Naming it in
 * every try would fail every renewal until the certificate ends; the order is made again
 * without it. On a real HTTPS server (the fake CA of test/helpers/fake-acme-ca.ts): pebble has
 * no ACME Renewal Information.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeClient } from '../../../src/server/acme/acme-client.ts';
import { type ChallengeSolver, orderCertificate } from '../../../src/server/acme/acme-order.ts';
import { startFakeAcmeCa } from '../../helpers/fake-acme-ca.ts';
import { certificateFor } from '../../helpers/named-certs.ts';

/** The fake CA's orders come authorized: nothing is ever presented. */
const solver: ChallengeSolver = {
  present: async () => assert.fail('nothing to validate'),
  cleanup: async () => {},
};

test('an order refused alreadyReplaced for the certificate it names is made again without naming it, and issued', {
  timeout: 30_000,
}, async () => {
  const issued = certificateFor(['renewed.shop.test']);
  const ca = await startFakeAcmeCa({ refuseReplaces: true, certificate: { status: 200, body: issued.cert } });
  try {
    const { privateKey: accountKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const client = new AcmeClient(ca.directory, accountKey, { ca: testCertificates().ca, timeoutMs: 10_000 });
    const chain = await orderCertificate(client, solver, {
      names: ['renewed.shop.test'],
      certificateKey: createPrivateKey(issued.key),
      challenges: ['http-01'],
      deadline: performance.now() + 20_000,
      replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
    });
    assert.equal(new X509Certificate(chain).subjectAltName, 'DNS:renewed.shop.test');
    assert.deepEqual(ca.replaces(), ['aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', undefined]);
    assert.equal(ca.downloads(), 1);
  } finally {
    await ca.close();
  }
});
