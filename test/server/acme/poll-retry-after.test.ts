/**
 * A resource still processing is polled when the CA's Retry-After says (RFC 8555 §7.4), which
 * may be a date (RFC 9110 §10.2.3) as well as seconds: a date was read as no Retry-After, and
 * the finalize's own answer's was not read at all; the order was polled every second. On the fake CA of test/helpers/fake-acme-ca.ts (a real HTTPS
 * server), whose finalize leaves the order processing; counted in polls, not timed.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeClient } from '../../../src/server/acme/acme-client.ts';
import { orderCertificate } from '../../../src/server/acme/acme-order.ts';
import { AcmeProblem } from '../../../src/server/acme/acme-problem.ts';
import { startFakeAcmeCa } from '../../helpers/fake-acme-ca.ts';

const AHEAD = {
  seconds: () => '30',
  date: () => new Date(Date.now() + 30_000).toUTCString(),
};

for (const [form, retryAfter] of Object.entries(AHEAD))
  test(`a processing order's Retry-After (${form}, the finalize's answer too) is waited for: an order whose time runs out first is not polled meanwhile`, async () => {
    // 30 s ahead: past the order's 3 s left, so the wait it asks for cannot be had.
    const ca = await startFakeAcmeCa({ processing: { retryAfter } });
    try {
      const key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const client = new AcmeClient(ca.directory, key(), { ca: testCertificates().ca, timeoutMs: 5_000 });
      const ordered = orderCertificate(
        client,
        { present: async () => {}, cleanup: async () => {} },
        {
          names: ['processing.example.test'],
          certificateKey: key(),
          challenges: ['http-01'],
          deadline: performance.now() + 3_000,
        },
      );
      await assert.rejects(ordered, (err: unknown) => {
        assert.ok(err instanceof AcmeProblem);
        assert.equal(err.type, 'candor:timeout');
        return true;
      });
      assert.equal(ca.orderReads(), 0, 'the CA said to come back later than the order could wait');
    } finally {
      await ca.close();
    }
  });
