/**
 * A revision that carries the document a gateway runs already (a push of identical content, a
 * rollback to it, a push made while the gateway was away that it started on from its last good
 * config): the gateway runs that document, so it names the newest revision of it in /status,
 * its metrics and its record, and keeps that revision on disk, without reloading its runtime.
 * Against a real etcd (Debian's etcd-server) behind a relay the test cuts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type CuttableRelay, cuttableRelay } from '../../helpers/cuttable-relay.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  candor,
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
import { adminCall, type ServeProcess } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-same-document-');
let etcd: EtcdProcess;
let relay: CuttableRelay;
let gateway: FleetGateway;
const origins = new NamedOrigins();

const push = (name: string) => pushDocument(gateway, dir, name, origins.url[name]);
const kept = () => JSON.parse(readFileSync(join(gateway.state, 'last-good.json'), 'utf8')).revision;
const reloads = () => (gateway.serve?.lines ?? []).filter((line) => line.msg === 'config reloaded').length;

async function revisionMetric(): Promise<string | undefined> {
  const metrics = await request(`http://127.0.0.1:${gateway.adminPort}`, {
    path: '/metrics',
    headers: { authorization: `Bearer ${FLEET_TOKEN}` },
  });
  return /^candor_config_source_revision\{key="\/candor\/config"\} (\S+)$/m.exec(
    metrics.body.toString(),
  )?.[1];
}

/** Waits (15 s at most) until the gateway's /status names `revision`; the last summary asserted. */
async function runs(revision: number): Promise<void> {
  let summary = '';
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    summary = String((await sourceOf(gateway)).summary);
    if (summary === `etcd reachable, running revision ${revision}`) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(summary, `etcd reachable, running revision ${revision}`);
}

/** What `candor fleet status` prints of this gateway's line. */
async function fleetLine(): Promise<string> {
  const status = await candor(['fleet', 'status', '--config', gateway.bootstrap]);
  assert.equal(status.code, 0, status.stderr);
  return status.stdout.split('\n').find((line) => line.includes(gateway.name)) ?? status.stdout;
}

before(async () => {
  etcd = await startEtcd();
  relay = await cuttableRelay(Number(new URL(etcd.endpoint).port));
  await origins.start(['one', 'two']);
  gateway = await fleetBootstrap(dir, 'gw-same', [`http://127.0.0.1:${relay.port}`]);
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, relay, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('a push of the document running names its revision in /status, the metrics and the fleet status, keeps it on disk, and reloads nothing', async () => {
  const first = await push('one');
  const serve = await serveGateway(gateway);
  try {
    await sameDocumentPushed(first);
  } finally {
    await serve.stop();
  }
  // Started again while etcd cannot be read: on the newest revision it has seen of it.
  relay.cut();
  try {
    const restarted = await serveGateway(gateway);
    assert.match(restarted.stderr(), new RegExp(`starting on the last good config, revision ${kept()} `));
    await restarted.stop();
  } finally {
    relay.mend();
  }
});

/** Pushes the document running (revision `first`) again, then rolls back to `first`: each revision named and kept, no reload. */
async function sameDocumentPushed(first: number): Promise<void> {
  await answersWith(gateway, 'one');
  await runs(first);
  const before = reloads();
  const again = await push('one');
  assert.ok(again > first);
  await runs(again);
  assert.equal(await revisionMetric(), String(again));
  assert.equal(kept(), again);
  assert.doesNotMatch(await fleetLine(), /not on the latest|behind/i);
  // A rollback to a revision of the same document is a new revision of it too.
  const rolled = await candor(['config', 'rollback', String(first), '--config', gateway.bootstrap]);
  assert.equal(rolled.code, 0, rolled.stderr);
  const rollback = Number(/revision (\d+)/.exec(rolled.stdout + rolled.stderr)?.[1]);
  assert.ok(rollback > again);
  await runs(rollback);
  assert.equal(kept(), rollback);
  assert.equal(reloads(), before, 'no reload for a document the gateway runs already');
  // Each push is in the deploy timeline all the same.
  const { body } = await adminCall(gateway.adminPort, 'GET', '/events', { token: FLEET_TOKEN });
  const pushes = (body.events as { revision?: number; same_document?: true }[]).filter(
    (e) => e.same_document,
  );
  assert.deepEqual(
    pushes.map((e) => e.revision),
    [again, rollback],
  );
}

test('started on its last good config while etcd could not be read, a push of the same document made meanwhile is named and kept on disk', async () => {
  const running = kept();
  const meanwhile = await push('one');
  assert.ok(meanwhile > running);
  relay.cutAt('/v3/kv/range', 2);
  const serve = await serveGateway(gateway);
  try {
    await meanwhileTaken(serve, running, meanwhile);
  } finally {
    await serve.stop();
  }
});

async function meanwhileTaken(serve: ServeProcess, running: number, meanwhile: number): Promise<void> {
  assert.match(serve.stderr(), new RegExp(`starting on the last good config, revision ${running} `));
  await serve.waitForLines('config source reachable again', 1, 15_000);
  await runs(meanwhile);
  assert.equal(await revisionMetric(), String(meanwhile));
  for (let tries = 0; tries < 100 && kept() !== meanwhile; tries++)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(kept(), meanwhile);
  // Then a push of another document is taken as ever.
  const other = await push('two');
  await answersWith(gateway, 'two');
  await runs(other);
  assert.equal(kept(), other);
}
