/**
 * A fleet gateway on an etcd whose client URL is https and asks every client for a certificate
 * (--client-cert-auth): with the CA and its certificate it starts on the key, follows it (the
 * watch over TLS) and applies a push; started without its certificate, etcd refuses it, which it
 * says as a refusal naming TLS (never as etcd being away): with no last good config, exit 69.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type EtcdProcess, etcdCertificate, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  candor,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  pushDocument,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const certs = testCertificates();
const dir = tempDir('candor-fleet-tls-');
let etcd: EtcdProcess;
const gateways: FleetGateway[] = [];
const origins = new NamedOrigins();

/** A bootstrap over https: the CA, and the client's certificate when `withCertificate`. */
async function tlsGateway(name: string, withCertificate: boolean): Promise<FleetGateway> {
  const gateway = await fleetBootstrap(dir, name, [etcd.endpoint]);
  const tls = withCertificate
    ? `{ ca: ${certs.caPath}, cert: ${certs.client.certPath}, key: ${certs.client.keyPath} }`
    : `{ ca: ${certs.caPath} }`;
  writeFileSync(
    gateway.bootstrap,
    readFileSync(gateway.bootstrap, 'utf8').replace(
      '    key: /candor/config\n',
      `    key: /candor/config\n    tls: ${tls}\n`,
    ),
  );
  gateways.push(gateway);
  return gateway;
}

before(async () => {
  etcd = await startEtcd({
    ...etcdCertificate(),
    clientCaPath: certs.caPath,
    poll: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
  });
  await origins.start(['one', 'two']);
});

after(async () => {
  await closeAll(
    gateways.map((g) => g.serve),
    etcd,
    ...origins.servers,
  );
  rmSync(dir, { recursive: true, force: true });
});

test('over TLS with its certificate: started on the key, and a push is applied through the watch', {
  timeout: 60_000,
}, async () => {
  const gateway = await tlsGateway('edge-tls', true);
  await pushDocument(gateway, dir, 'one', origins.url.one);
  await serveGateway(gateway);
  await answersWith(gateway, 'one');
  const revision = await pushDocument(gateway, dir, 'two', origins.url.two);
  await answersWith(gateway, 'two');
  assert.equal((await sourceOf(gateway)).summary, `etcd reachable, running revision ${revision}`);
});

test('without its certificate and no last good config: exit 69, saying etcd refused the TLS handshake', {
  timeout: 60_000,
}, async () => {
  const gateway = await tlsGateway('edge-nocert', false);
  const started = await candor(['serve', '--config', gateway.bootstrap]);
  assert.equal(started.code, 69, `${started.stdout}${started.stderr}`);
  assert.match(
    started.stderr,
    /^candor: could not start: etcd refused this gateway \(etcd refused the TLS handshake, or its certificate is not trusted \(https:\/\/127\.0\.0\.1:\d+: .*bad certificate.*\)\), and there is no last good config in \S+ to start on$/m,
  );
});

test('without its certificate, on a last good config: started on it, said as etcd refusing it (TLS), not as etcd away', {
  timeout: 60_000,
}, async () => {
  const gateway = await tlsGateway('edge-kept', false);
  for (const file of ['last-good.yaml', 'last-good.json'])
    writeFileSync(join(gateway.state, file), readFileSync(join(gateways[0].state, file)));
  await serveGateway(gateway);
  assert.match(
    gateway.serve?.stderr() ?? '',
    /etcd refused this gateway \(etcd refused the TLS handshake.*\): starting on the last good config/,
  );
  await answersWith(gateway, 'two');
  const source = await sourceOf(gateway);
  assert.match(
    String(source.summary),
    /^etcd refuses this gateway since \S+ \(etcd refused the TLS handshake.*\), running revision \d+$/,
  );
  assert.equal(source.unreachable_since, null);
});
