/**
 * A CA that is down for a while (maintenance, overload) answers 503 with a Retry-After, to its
 * directory and its newNonce alike: the failed order is told as the CA's own answer (its problem
 * document when it sent one, else its status), not as a config whose `acme.directory` is wrong,
 * and the next try waits for its Retry-After. On a real HTTPS server (the fake CA of
 * test/helpers/fake-acme-ca.ts): pebble does not go down for maintenance.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type FakeAcmeCaOptions, startFakeAcmeCa } from '../../helpers/fake-acme-ca.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

/** The first failed order of a gateway ordering one name from a fake CA answering `options`. */
async function firstFailure(options: FakeAcmeCaOptions): Promise<{
  lastError: { type: string; detail: string } | undefined;
  line: Record<string, unknown> | undefined;
}> {
  const ca = await startFakeAcmeCa(options);
  const dir = tempDir('candor-acme-down-');
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [down.shop.test] }
acme:
  directory: ${ca.directory}
  ca: ${testCertificates().caPath}
  challenges: [http-01]
  storage: ${join(dir, 'acme')}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`);
  try {
    await waitUntil('the order failed', () => (gw.gateway.status().certificates ?? [])[0]?.failures === 1);
    return {
      lastError: (gw.gateway.status().certificates ?? [])[0]?.last_error,
      line: gw.logs.find((l) => l.msg === 'certificate order failed'),
    };
  } finally {
    await gw.close();
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a directory answering 503 with a problem document is the CA's problem, and its Retry-After decides the next try", {
  timeout: 30_000,
}, async () => {
  const detail = 'The service is down for maintenance';
  const { lastError, line } = await firstFailure({
    directory: {
      status: 503,
      retryAfter: '3600',
      body: JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail }),
    },
  });
  assert.deepEqual(
    { type: lastError?.type, detail: lastError?.detail },
    { type: 'urn:ietf:params:acme:error:serverInternal', detail },
  );
  assert.equal(line?.acme_error, 'urn:ietf:params:acme:error:serverInternal');
  assert.equal(line?.retry_in_s, 3600);
});

test('a newNonce answering 503 without a nonce is told with its status, and its Retry-After decides the next try', {
  timeout: 30_000,
}, async () => {
  const { lastError, line } = await firstFailure({ nonce: { status: 503, retryAfter: '1800' } });
  assert.equal(lastError?.type, 'candor:nonce');
  assert.match(
    lastError?.detail ?? '',
    /^newNonce https:\/\/localhost:\d+\/nonce answered 503 with no Replay-Nonce$/,
  );
  assert.equal(line?.retry_in_s, 1800);
});
