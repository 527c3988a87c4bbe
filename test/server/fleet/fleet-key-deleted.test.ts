/**
 * The config key deleted by hand (`etcdctl del`), or lost with etcd's data: the gateway keeps what
 * it runs and says so, and `candor fleet status` says the key holds no config, marks no gateway
 * BEHIND a revision that is not there, and exits 1; the next push is taken.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  candor,
  documentTo,
  FLEET_KEY,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-deleted-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
  gateway = await fleetBootstrap(dir, 'gw-d', [etcd.endpoint]);
  await new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 }).put(
    FLEET_KEY,
    documentTo(origins.url.one),
  );
  await serveGateway(gateway);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

const answer = async () =>
  (await request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/' })).body.toString();

test('the key deleted: the gateway serves on, and fleet status says the key is empty, none BEHIND, exit 1', async () => {
  const running = (await sourceOf(gateway)).revision as number;
  // etcdctl del, through etcd's JSON gateway.
  const deleted = await fetch(`${etcd.endpoint}/v3/kv/deleterange`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(FLEET_KEY).toString('base64') }),
  });
  assert.equal(deleted.status, 200);
  await gateway.serve?.waitForLines('the config key was deleted: the running config stays', 1, 10_000);
  assert.equal(await answer(), 'one');
  assert.equal((await sourceOf(gateway)).revision, running);
  const json = await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json']);
  assert.equal(json.code, 1, json.stderr);
  const fleet = JSON.parse(json.stdout) as {
    latest: number;
    gateways: { name: string; address: string; revision: number; since: string; behind: boolean }[];
  };
  assert.equal(fleet.latest, 0);
  assert.deepEqual(
    fleet.gateways.map((g) => [g.name, g.revision, g.behind]),
    [['gw-d', running, false]],
  );
  const [record] = fleet.gateways;
  const lines = await candor(['fleet', 'status', '--config', gateway.bootstrap]);
  assert.equal(lines.code, 1);
  assert.equal(
    lines.stdout,
    `${FLEET_KEY}: no config under the key (none pushed, or it was deleted: each gateway keeps what it runs), 1 live gateway(s)\n` +
      `  gw-d  ${record.address}  candor ${(record as { version?: string }).version}  revision ${running} (since ${record.since})\n`,
  );
  // Pushed again: taken, and the fleet in order.
  const file = join(dir, 'two.yaml');
  writeFileSync(file, documentTo(origins.url.two));
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const revision = Number(/pushed as revision (\d+)/.exec(pushed.stdout)?.[1]);
  let status = await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json']);
  for (const deadline = Date.now() + 15_000; status.code !== 0 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 200));
    status = await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json']);
  }
  assert.equal(status.code, 0, status.stdout);
  assert.equal((JSON.parse(status.stdout) as { latest: number }).latest, revision);
  assert.equal(await answer(), 'two');
});
