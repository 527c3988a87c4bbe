/**
 * etcd wiped under a gateway and left empty (its data lost, a member rebuilt; nobody pushed
 * yet): the gateway serves on its last good config and says why, once; a gateway restarted
 * meanwhile starts on its last good config, as when etcd cannot be reached, rather than refusing
 * to start while the rest of the fleet serves that config; the first push is applied.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  pushDocument,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-emptied-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

const push = (name: string) => pushDocument(gateway, dir, name, origins.url[name]);

const answers = (body: string) => answersWith(gateway, body);

/** The gateway's log lines whose message starts so, waited for (20 s at most) until there is one. */
async function linesStarting(prefix: string): Promise<Record<string, unknown>[]> {
  const found = () => gateway.serve?.lines.filter((l) => String(l.msg).startsWith(prefix)) ?? [];
  for (const deadline = Date.now() + 20_000; found().length === 0 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 100));
  return found();
}

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
  gateway = await fleetBootstrap(dir, 'gw-e', [etcd.endpoint]);
  // Revisions well above what the new etcd will reach.
  const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  for (let i = 0; i < 10; i++) await client.put('/unrelated', String(i));
  await push('one');
  await serveGateway(gateway);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('etcd wiped and left empty: the gateway serves on, a restart starts on the last good config, the first push is applied', async () => {
  await answers('one');
  const running = (await sourceOf(gateway)).revision as number;
  const kept = join(gateway.state, 'last-good.json');
  for (let tries = 0; tries < 100 && !existsSync(kept); tries++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(JSON.parse(readFileSync(kept, 'utf8')).revision, running);

  await etcd.wipe();
  const deleted = await linesStarting('the config key was deleted');
  assert.equal(deleted.length, 1, JSON.stringify(gateway.serve?.lines.slice(-8)));
  assert.equal(deleted[0].msg, 'the config key was deleted: the running config stays');
  assert.equal((await linesStarting("etcd's revisions went back")).length, 1);
  await answers('one');

  // Restarted while the key is empty: on its last good config, saying why.
  await gateway.serve?.stop();
  gateway.serve = undefined;
  const restarted = await serveGateway(gateway);
  assert.match(
    restarted.stderr(),
    new RegExp(
      `candor: etcd holds no config at /candor/config: starting on the last good config, revision ${running} \\(kept `,
    ),
  );
  await answers('one');

  const pushed = await push('two');
  await answers('two');
  let source = await sourceOf(gateway);
  for (const deadline = Date.now() + 10_000; source.revision !== pushed && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    source = await sourceOf(gateway);
  }
  assert.equal(source.revision, pushed);
  assert.equal(source.summary, `etcd reachable, running revision ${pushed}`);
  assert.equal(JSON.parse(readFileSync(kept, 'utf8')).revision, pushed);
});
