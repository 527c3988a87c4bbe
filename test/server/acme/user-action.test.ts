/**
 * A CA that needs its account's holder to do something first (RFC 8555 §7.3.3: agree to new
 * terms of service, say) refuses with `userActionRequired` and the page to visit in the problem
 * document's `instance`: that page is told with the detail, for without it the operator reading
 * the log or /status cannot know where to go. On a real HTTPS server (the fake CA of
 * test/helpers/fake-acme-ca.ts): pebble never asks for it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeClient } from '../../../src/server/acme/acme-client.ts';
import { orderCertificate } from '../../../src/server/acme/acme-order.ts';
import { AcmeProblem } from '../../../src/server/acme/acme-problem.ts';
import { startFakeAcmeCa } from '../../helpers/fake-acme-ca.ts';

test("a userActionRequired refusal tells the page its instance names, after the CA's detail", {
  timeout: 30_000,
}, async () => {
  const ca = await startFakeAcmeCa({
    newOrder: {
      status: 403,
      body: JSON.stringify({
        type: 'urn:ietf:params:acme:error:userActionRequired',
        detail: 'Terms of service have changed',
        instance: 'https://ca.example/agree-to-terms',
      }),
    },
  });
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const client = new AcmeClient(ca.directory, privateKey, { ca: testCertificates().ca, timeoutMs: 10_000 });
    const refused = await orderCertificate(
      client,
      { present: async () => {}, cleanup: async () => {} },
      {
        names: ['terms.shop.test'],
        certificateKey: privateKey,
        challenges: ['http-01'],
        deadline: performance.now() + 20_000,
      },
    ).then(
      () => assert.fail('the CA refused the order'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof AcmeProblem);
    assert.equal(refused.type, 'urn:ietf:params:acme:error:userActionRequired');
    assert.equal(refused.detail, 'Terms of service have changed (see https://ca.example/agree-to-terms)');
  } finally {
    await ca.close();
  }
});
