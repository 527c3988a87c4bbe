/**
 * What the deploy timeline (GET /events, the status page, `candor explain`) says of who pushed a
 * revision a gateway took: a rollback said as one (`candor config history` says it), and the
 * author of a revision applied after etcd compacted past it read from the push record that is
 * still there when it is that revision's, else said unknown for that reason, never taken for a
 * hand write. One gateway on a real etcd (Debian's etcd-server).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { pushAuthor, pushRecordAt } from '../../../src/server/fleet/config-push.ts';
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
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-timeline-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

interface Entry {
  kind: string;
  revision?: number;
  author?: string;
  rollback_of?: number;
  config_hash?: string;
  summary: string;
}

/** `candor config push` of documentTo(origin `name`) by `author`: the revision pushed. */
async function push(name: string, author: string): Promise<number> {
  const file = `${dir}/${name}-${author}.yaml`;
  writeFileSync(file, documentTo(origins.url[name]));
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap, '--author', author]);
  assert.equal(pushed.code, 0, pushed.stderr);
  return Number(/pushed as revision (\d+)/.exec(pushed.stdout)?.[1]);
}

async function rollback(revision: number, author: string): Promise<number> {
  const done = await candor([
    'config',
    'rollback',
    String(revision),
    '--config',
    gateway.bootstrap,
    '--author',
    author,
  ]);
  assert.equal(done.code, 0, done.stderr);
  return Number(/pushed as revision (\d+)/.exec(done.stdout)?.[1]);
}

/** Waits (15 s at most) until the gateway runs `revision`. */
async function runs(revision: number): Promise<void> {
  let running: unknown;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    running = (await sourceOf(gateway)).revision;
    if (running === revision) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(running, revision);
}

/** The gateway's timeline entries of etcd revisions. */
async function pushes(): Promise<Entry[]> {
  const { status, body } = await adminCall(gateway.adminPort, 'GET', '/events', { token: FLEET_TOKEN });
  assert.equal(status, 200);
  return (body.events as Entry[]).filter((e) => e.kind === 'reload' && e.revision !== undefined);
}

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three', 'four']);
  gateway = await fleetBootstrap(dir, 'gw-timeline', [etcd.endpoint]);
  await push('one', 'alice');
  await serveGateway(gateway);
  await answersWith(gateway, 'one');
});

after(async () => {
  await closeAll(gateway?.serve, origins.servers, etcd);
  rmSync(dir, { recursive: true, force: true });
});

test('a rollback is on the timeline as a rollback to its revision, reloaded or taken as the document running', async () => {
  const two = await push('two', 'bob');
  await runs(two);
  const ones = (await candor(['config', 'history', '--config', gateway.bootstrap, '--json'])).stdout;
  const alices = (JSON.parse(ones).entries as { revision: number; author: string }[]).find(
    (e) => e.author === 'alice',
  )?.revision as number;
  // Back to alice's document: a reload.
  const back = await rollback(alices, 'frank');
  await runs(back);
  await answersWith(gateway, 'one');
  // Back to it again: the document running already, nothing reloaded.
  const again = await rollback(alices, 'frank');
  await runs(again);
  const entries = await pushes();
  const reloaded = entries.find((e) => e.revision === back);
  assert.equal(reloaded?.author, 'frank');
  assert.equal(reloaded?.rollback_of, alices);
  assert.match(
    reloaded?.summary ?? '',
    new RegExp(
      `^reload sha256:\\w+ of etcd revision ${back} by frank, a rollback to revision ${alices} \\(upstream app: `,
    ),
  );
  const taken = entries.find((e) => e.revision === again);
  assert.equal(taken?.rollback_of, alices);
  assert.equal(
    taken?.summary,
    `etcd revision ${again} by frank, a rollback to revision ${alices}: the document running already (${taken?.config_hash}), nothing reloaded`,
  );
  // A plain push says none.
  assert.equal(entries.find((e) => e.revision === two)?.rollback_of, undefined);
  assert.doesNotMatch(entries.find((e) => e.revision === two)?.summary ?? '', /rollback/);
});

test("a gateway stopped while three pushes and a compaction happen names the author of the revision it applies, from the push record that is still that revision's", async () => {
  const primary = gateway.serve?.child.pid as number;
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  let last = 0;
  process.kill(primary, 'SIGSTOP');
  try {
    await push('two', 'carol');
    await push('three', 'dave');
    last = await push('four', 'erin');
    // A write after them (another key), then the store compacted to it: the pushes' revisions
    // and their records as they were at those revisions are gone; erin's record is still the latest.
    const other = await client.put('/elsewhere', 'x');
    const compacted = await fetch(`${etcd.endpoint}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(other) }),
    });
    assert.equal(compacted.status, 200);
  } finally {
    process.kill(primary, 'SIGCONT');
  }
  await answersWith(gateway, 'four');
  await runs(last);
  assert.equal((await sourceOf(gateway)).author, 'erin');
  const entries = await pushes();
  const applied = entries.find((e) => e.revision === last);
  assert.equal(applied?.author, 'erin');
  assert.match(
    applied?.summary ?? '',
    new RegExp(`^reload sha256:\\w+ of etcd revision ${last} by erin \\(`),
  );
  // Every revision was pushed: none is said to be a hand write. One applied on the way (the
  // watch's events came before the newest) whose record a later push replaced says why unknown.
  for (const entry of entries) {
    assert.notEqual(entry.author, 'unknown (no push record)', entry.summary);
    if (entry.revision !== undefined && entry.revision > last - 3 && entry.revision < last)
      assert.equal(entry.author, 'unknown (its revision was compacted away)', entry.summary);
  }
});

test('past a compaction, the push record tells its own revision, a hand write after it, and not the revisions a later push replaced', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const carols = await push('one', 'carol');
  const rollbacks = await rollback(carols, 'grace');
  // Written by hand after the push, then a write elsewhere, and the store compacted past all three.
  const hand = await client.put(FLEET_KEY, documentTo(origins.url.two));
  const compactAt = await client.put('/elsewhere', 'y');
  const compacted = await fetch(`${etcd.endpoint}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: String(compactAt) }),
  });
  assert.equal(compacted.status, 200);
  const authorAt = async (revision: number) => pushAuthor(await pushRecordAt(client, FLEET_KEY, revision));
  assert.equal(await authorAt(carols), 'unknown (its revision was compacted away)');
  assert.equal(await authorAt(hand), 'unknown (no push record)');
  // grace's record is still the latest (a hand write writes none): the rollback's own, read as such.
  const graces = await pushRecordAt(client, FLEET_KEY, rollbacks);
  assert.equal(typeof graces === 'object' && [graces.author, graces.rollback_of].join(), `grace,${carols}`);
  await runs(hand);
  assert.equal((await sourceOf(gateway)).author, 'unknown (no push record)');
});
