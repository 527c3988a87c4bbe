/**
 * The etcd client over TLS, on a real etcd whose client URL is https and asks every client for a
 * certificate (--client-cert-auth): with the CA and a client certificate it reads and writes;
 * without its certificate, or without the CA, it is refused, and says it is TLS (not "unreachable").
 * A bootstrap file's `tls` reaches it: `candor fleet status` over TLS.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { EtcdClient, type EtcdError } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, etcdCertificate, startEtcd } from '../../helpers/etcd-server.ts';
import { candor } from '../../helpers/fleet-gateways.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const certs = testCertificates();
const dir = tempDir('candor-etcd-tls-');
let etcd: EtcdProcess;

before(async () => {
  etcd = await startEtcd({
    ...etcdCertificate(),
    clientCaPath: certs.caPath,
    poll: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
  });
});
after(async () => {
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('with the CA and a client certificate, the client reads and writes over https', async () => {
  const client = new EtcdClient({
    endpoints: [etcd.endpoint],
    tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
  });
  const revision = await client.put('/tls/key', 'over tls');
  const read = await client.range('/tls/key');
  assert.deepEqual([read.kvs[0].value, read.kvs[0].modRevision], ['over tls', revision]);
});

test('without a client certificate, or without the CA, the call fails and says it is TLS', async () => {
  const noCert = new EtcdClient({ endpoints: [etcd.endpoint], tls: { ca: certs.ca }, timeoutMs: 2_000 });
  await assert.rejects(noCert.range('/tls/key'), (err: EtcdError) => {
    assert.equal(err.kind, 'refused');
    assert.match(
      err.message,
      /^etcd refused the TLS handshake, or its certificate is not trusted \(https:\/\/127\.0\.0\.1:\d+: .*alert bad certificate/,
    );
    return true;
  });
  const noCa = new EtcdClient({
    endpoints: [etcd.endpoint],
    tls: { cert: certs.client.cert, key: certs.client.key },
  });
  await assert.rejects(noCa.range('/tls/key'), (err: EtcdError) => {
    assert.equal(err.kind, 'refused');
    assert.match(
      err.message,
      /^etcd refused the TLS handshake, or its certificate is not trusted \(.*unable to verify the first certificate/,
    );
    return true;
  });
});

test("a bootstrap file's tls reaches the client: candor fleet status over https", async () => {
  const bootstrap = join(dir, 'bootstrap.yaml');
  writeFileSync(
    bootstrap,
    `source:
  etcd:
    endpoints: [${etcd.endpoint}]
    key: /tls/fleet
    tls: { ca: ${certs.caPath}, cert: ${certs.client.certPath}, key: ${certs.client.keyPath} }
state: ${join(dir, 'state')}
local:
  name: tls-1
  listen:
    - address: 127.0.0.1:0
`,
  );
  const status = await candor(['fleet', 'status', '--config', bootstrap]);
  assert.equal(status.stderr, '');
  assert.equal(
    status.stdout,
    '/tls/fleet: no config under the key (none pushed, or it was deleted: each gateway keeps what it runs), 0 live gateway(s)\n',
  );
  assert.equal(status.code, 0);
  const bare = join(dir, 'bare.yaml');
  writeFileSync(
    bare,
    `source:\n  etcd:\n    endpoints: [${etcd.endpoint}]\n    key: /tls/fleet\nstate: ${join(dir, 'state')}\nlocal:\n  name: bare\n`,
  );
  const refused = await candor(['fleet', 'status', '--config', bare]);
  assert.equal(refused.code, 69);
  assert.match(
    refused.stderr,
    /^candor: etcd refused the TLS handshake, or its certificate is not trusted \(https:\/\/127\.0\.0\.1:\d+: unable to verify/,
  );
});
