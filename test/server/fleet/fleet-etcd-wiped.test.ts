/**
 * etcd restored empty under a running gateway (its data lost, a member rebuilt, a restore from an
 * older snapshot): etcd's revisions begin again from 1, below the one the gateway runs. The
 * gateway must not wait for the new etcd's numbers to pass its old ones: the first push to the
 * new etcd is applied, and what the gateway says of its revision is etcd's.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
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
import { childPids, signalEach } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-wiped-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

const push = (name: string) => pushDocument(gateway, dir, name, origins.url[name]);

const answers = (body: string) => answersWith(gateway, body);

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three']);
  gateway = await fleetBootstrap(dir, 'gw-w', [etcd.endpoint]);
  // Revisions well above what the new etcd will reach with one push.
  const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  for (let i = 0; i < 10; i++) await client.put('/unrelated', String(i));
  await push('one');
  await serveGateway(gateway);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('etcd wiped and started again: the first push to it is applied, and its revision is the one reported', async () => {
  await answers('one');
  const before = (await sourceOf(gateway)).revision as number;
  assert.ok(before > 10);
  await etcd.wipe();
  const revision = await push('two');
  assert.ok(revision < before, `the new etcd's revision ${revision} is below ${before}`);
  await answers('two');
  let source = await sourceOf(gateway);
  for (const deadline = Date.now() + 10_000; source.revision !== revision && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    source = await sourceOf(gateway);
  }
  assert.equal(source.revision, revision);
  assert.equal(source.summary, `etcd reachable, running revision ${revision}`);
  // Said once, naming the revisions, and the fleet's list shows the gateway on etcd's revision.
  const said = gateway.serve?.lines.filter((l) => String(l.msg).startsWith("etcd's revisions went back"));
  assert.equal(said?.length, 1);
  assert.match(
    String(said?.[0].msg),
    /^etcd's revisions went back from \d+ to \d+ \(its data restored or lost\): the key's value there is taken whatever its revision$/,
  );
  let status = await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json']);
  for (const deadline = Date.now() + 10_000; status.code !== 0 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 200));
    status = await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json']);
  }
  assert.equal(status.code, 0, status.stdout + status.stderr);
  const fleet = JSON.parse(status.stdout) as {
    latest: number;
    gateways: { name: string; revision: number }[];
  };
  assert.equal(fleet.latest, revision);
  assert.deepEqual(
    fleet.gateways.map((g) => [g.name, g.revision]),
    [['gw-w', revision]],
  );
  // And the next push after that one too.
  const next = await push('three');
  await answers('three');
  assert.equal((await sourceOf(gateway)).revision, next);
});

test("etcd wiped, and written past the revision the gateway saw before its watch opens again: the key's value there is still taken", {
  timeout: 90_000,
}, async () => {
  await answers('three');
  const seen = (await sourceOf(gateway)).revision as number;
  // The gateway away (a VM paused, a partition) while etcd is rebuilt empty, the config pushed to
  // it, and the rest of what shares that etcd writes on: its store's revision passes the one the
  // gateway saw before it watches again, so no watch opens below it to say the history went back.
  const pids = [gateway.serve?.child.pid as number, ...childPids(gateway.serve?.child.pid)];
  signalEach(pids, 'SIGSTOP');
  let revision = 0;
  try {
    await etcd.wipe();
    revision = await push('one');
    const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
    for (let i = 0; i <= seen; i++) await client.put('/unrelated', String(i));
    assert.ok((await client.range('/unrelated')).revision > seen);
  } finally {
    signalEach(pids, 'SIGCONT');
  }
  await answers('one');
  let source = await sourceOf(gateway);
  for (const deadline = Date.now() + 10_000; source.revision !== revision && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    source = await sourceOf(gateway);
  }
  assert.equal(source.summary, `etcd reachable, running revision ${revision}`);
  const said = gateway.serve?.lines.filter((l) => String(l.msg).startsWith("etcd's revisions went back"));
  assert.equal(said?.length, 2);
  assert.equal(
    said?.[1].msg,
    `etcd's revisions went back from ${seen} to ${revision} (its data restored or lost): the key's value there is taken whatever its revision`,
  );
  // And the next push after that one too.
  const next = await push('two');
  await answers('two');
  assert.equal((await sourceOf(gateway)).revision, next);
});
