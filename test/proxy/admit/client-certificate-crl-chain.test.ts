/**
 * Revocation lists of a chain with an intermediate (`client_certificates.crl` holding "one list
 * from each CA of the chain"): the listener's `ca` holds the root, the client sends its
 * certificate and the intermediate that issued it. Every list of the file counts: a good
 * certificate is let in, one its intermediate revoked is refused as revoked, every certificate of
 * an intermediate its root revoked too, and an intermediate whose list is missing leaves its
 * certificates refused for want of one.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCaChain, makeClientCaChain } from '../../helpers/client-ca-chain.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';

const server = testCertificates();
let chain: ClientCaChain;
let app: Fault;
const files = tempDir('candor-crl-chain-');

before(async () => {
  chain = makeClientCaChain();
  app = await startEcho();
});

after(async () => {
  await closeAll(app);
  chain?.remove();
});

/** A listener whose `crl` is `lists`, asked /secure with `who`'s certificate: the status, the 403's details, the log's auth. */
async function asked(lists: string, who: { cert: string; key: string }) {
  const crl = join(files, `crl-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(crl, lists);
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${chain.root}, crl: ${crl}, mode: optional }
routes:
  - match: { path: /secure }
    upstream: app
    auth: { client_certificate: {}, identity_header: X-User }
upstreams:
  app:
    targets:
      - url: ${app.url}
`);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: gw.port,
          path: '/secure',
          servername: 'localhost',
          ca: server.ca,
          ...who,
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    const line = await gw.accessLine();
    return { status, auth: line.auth, user: line.user };
  } finally {
    await gw.close();
  }
}

test("a good certificate of an intermediate, the file holding the root's list and the intermediate's: let in", async () => {
  const alice = chain.issue('alice');
  assert.deepEqual(await asked(chain.lists(['root', 'intermediate']), alice), {
    status: 200,
    auth: 'allowed',
    user: 'alice',
  });
  // The lists' order in the file is no matter.
  assert.equal((await asked(chain.lists(['intermediate', 'root']), alice)).status, 200);
});

test('a certificate its intermediate revoked is refused as revoked, whichever list comes first', async () => {
  const bob = chain.issue('bob');
  chain.revoke('bob');
  for (const order of [
    ['root', 'intermediate'],
    ['intermediate', 'root'],
  ] as const)
    assert.deepEqual(await asked(chain.lists(order), bob), {
      status: 403,
      auth: 'denied: client certificate: CERT_REVOKED',
      user: undefined,
    });
});

test("the intermediate's list missing: its certificates are refused for want of one", async () => {
  const carol = chain.issue('carol');
  assert.deepEqual(await asked(chain.lists(['root']), carol), {
    status: 403,
    auth: 'denied: client certificate: UNABLE_TO_GET_CRL',
    user: undefined,
  });
});

test('an intermediate its root revoked: every certificate it issued is refused as revoked', async () => {
  const dave = chain.issue('dave');
  chain.revokeIntermediate();
  for (const order of [
    ['root', 'intermediate'],
    ['intermediate', 'root'],
  ] as const)
    assert.deepEqual(await asked(chain.lists(order), dave), {
      status: 403,
      auth: 'denied: client certificate: CERT_REVOKED',
      user: undefined,
    });
});
