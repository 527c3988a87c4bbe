/**
 * A push whose reload is asked while another reload waits to begin (a SIGHUP or an admin reload
 * queued behind one under way) is merged into that one (cluster-reloads.ts: one queued and not
 * begun reads the file after every caller merged into it asked). The file it reads is the one
 * the push wrote, so the deploy timeline's entry of that reload is the push's: its revision and
 * author, via etcd. It was the first asker's (via SIGHUP, no revision): the push was in no entry
 * of the gateway's timeline, which issue 60 says every push is.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  documentTo,
  FLEET_KEY,
  FLEET_TOKEN,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  pushDocument,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall, startServe, stopConfigReader } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-merged-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
  gateway = await fleetBootstrap(dir, 'gw-m', [etcd.endpoint]);
  const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  await client.put(FLEET_KEY, documentTo(origins.url.one));
  gateway.serve = await startServe(gateway.bootstrap, 1, { admin: true });
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test("a push merged into a reload that waits to begin is that reload's entry in the timeline: its revision and author, via etcd", async () => {
  const serve = gateway.serve;
  assert.ok(serve);
  await answersWith(gateway, 'one');
  // A reload under way, its read of the file held; a SIGHUP's queued behind it.
  const first = adminCall(gateway.adminPort, 'POST', '/reload', { token: FLEET_TOKEN });
  const reader = await stopConfigReader(serve);
  serve.child.kill('SIGHUP');
  // The push: the gateway writes the file it runs and asks its reload, merged into the SIGHUP's.
  const revision = await pushDocument(gateway, dir, 'two', origins.url.two);
  await serve.waitForLines('reload asked while one waits to begin: that one answers it', 1, 20_000);
  process.kill(reader, 'SIGCONT');
  assert.equal((await first).status, 200);
  // The one under way read the file after the push wrote it (its read was held); the merged one after it.
  await serve.waitForLines('config reloaded', 2, 20_000);
  await answersWith(gateway, 'two');

  const { body } = await adminCall(gateway.adminPort, 'GET', '/events', { token: FLEET_TOKEN });
  const reloads = (body.events as { kind: string; via: string; revision?: number; author?: string }[]).filter(
    (e) => e.kind === 'reload',
  );
  const pushed = reloads.filter((e) => e.revision === revision);
  assert.deepEqual(
    pushed.map((e) => [e.via, e.revision, e.author]),
    [['etcd', revision, 'alice']],
    `the timeline's reloads: ${JSON.stringify(reloads)}; lines: ${JSON.stringify(serve.lines.filter((l) => /reload|revision/.test(String(l.msg))).map((l) => [l.msg, l.via, l.merged_into]))}`,
  );
});
