/**
 * A refused revision is current only until a revision seen after it runs: GET /status's
 * `config.etcd.refused`, the refused-revision gauge and the gateway's record (what `candor fleet
 * status` lists) all show it while it is the newest revision the gateway saw, and none of them
 * once a later one is applied (or taken: the document running pushed again), so that an
 * operator never reads an old refusal as the state of the gateway now. Against a real etcd
 * (Debian's etcd-server).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  candor,
  documentTo,
  FLEET_KEY,
  FLEET_TOKEN,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  pushDocument,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-refusal-superseded-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

const push = (name: string) => pushDocument(gateway, dir, name, origins.url[name]);

async function refusedMetric(): Promise<string | undefined> {
  const metrics = await request(`http://127.0.0.1:${gateway.adminPort}`, {
    path: '/metrics',
    headers: { authorization: `Bearer ${FLEET_TOKEN}` },
  });
  return /^candor_config_source_refused_revision\{key="\/candor\/config"\} (\S+)$/m.exec(
    metrics.body.toString(),
  )?.[1];
}

/** Waits (15 s at most) until the gateway's /status names `revision` running; the source's state then. */
async function runs(revision: number): Promise<Record<string, unknown>> {
  let source: Record<string, unknown> = {};
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    source = await sourceOf(gateway);
    if (source.revision === revision) return source;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(source.revision, revision, JSON.stringify(source));
  return source;
}

/** Waits (15 s at most) until the gateway's /status names `revision` refused. */
async function refuses(revision: number): Promise<void> {
  let refused: { revision: number } | null = null;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    refused = (await sourceOf(gateway)).refused as { revision: number } | null;
    if (refused?.revision === revision) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(refused?.revision, revision);
}

/** `candor fleet status --json`'s entry for the gateway, once its record names `revision`. */
async function recordAt(revision: number): Promise<Record<string, unknown>> {
  let entry: Record<string, unknown> | undefined;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    const status = await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json']);
    const gateways = (JSON.parse(status.stdout) as { gateways: Record<string, unknown>[] }).gateways;
    entry = gateways.find((g) => g.name === gateway.name);
    if (entry?.revision === revision) return entry;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(entry?.revision, revision, JSON.stringify(entry));
  return entry as Record<string, unknown>;
}

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three']);
  gateway = await fleetBootstrap(dir, 'gw-a', [etcd.endpoint]);
  await push('one');
  await serveGateway(gateway);
  await answersWith(gateway, 'one');
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('a refusal is shown while it is the newest revision seen, and no longer once a later one is applied or taken', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const bad = documentTo(origins.url.two).replace(
    '    targets:',
    '    timeouts: { connect: fast }\n    targets:',
  );
  // Written as etcdctl would, past the push's own check.
  const refused = await client.put(FLEET_KEY, bad);
  await refuses(refused);
  assert.equal(await refusedMetric(), String(refused));
  assert.equal(
    ((await recordAt((await sourceOf(gateway)).revision as number)).refused as { revision: number }).revision,
    refused,
  );

  const good = await push('two');
  await answersWith(gateway, 'two');
  const source = await runs(good);
  assert.equal(source.refused, null, JSON.stringify(source));
  assert.equal(await refusedMetric(), '0');
  const record = await recordAt(good);
  assert.equal(record.refused, undefined, JSON.stringify(record));
  const status = await candor(['fleet', 'status', '--config', gateway.bootstrap]);
  assert.equal(status.code, 0, status.stdout);
  assert.doesNotMatch(status.stdout, /refused/);

  // Refused again, then the document running pushed again: taken without a reload, and the refusal is past too.
  const again = await client.put(FLEET_KEY, bad);
  await refuses(again);
  const same = await push('two');
  const taken = await runs(same);
  assert.equal(taken.refused, null, JSON.stringify(taken));
  assert.equal(await refusedMetric(), '0');
  assert.equal((await recordAt(same)).refused, undefined);
});
