/**
 * A key followed from a revision given (a gateway's start read it there), with etcd restored
 * empty before the watch opens: the new etcd's revisions are below the one given, so a watch from
 * it would wait for a revision the new etcd may not reach for days. The history gone back is
 * said, and the key's value there, and every write after it, is taken.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { followKey, startFollowing } from '../../../src/upstream/config-source/key-watch.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let etcd: EtcdProcess;
let client: EtcdClient;

before(async () => {
  etcd = await startEtcd();
  client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2_000 });
});
after(async () => {
  await etcd?.close();
});

test("etcd restored empty between the read that gave the revision and the watch: the new etcd's writes are taken", async () => {
  for (let i = 0; i < 10; i++) await client.put('/w/unrelated', String(i));
  await client.put('/w/config', 'before');
  const read = await client.range('/w/config');
  await etcd.wipe();
  const seen: string[] = [];
  const lost: [number, number][] = [];
  const stop = followKey(client, '/w/config', read.revision + 1, {
    onValue: (kv) => seen.push(kv?.value ?? '<deleted>'),
    onReachable: () => {},
    onHistoryLost: (from, now) => lost.push([from, now]),
  });
  try {
    await waitUntil('the history gone back said', () => lost.length === 1, 10_000);
    const written = await client.put('/w/config', 'after');
    assert.ok(written < read.revision, `the new etcd's revision ${written} is below ${read.revision}`);
    await waitUntil("the new etcd's write taken", () => seen.includes('after'), 10_000);
    assert.deepEqual(seen, ['<deleted>', 'after']);
    assert.deepEqual(lost, [[read.revision, lost[0][1]]]);
    assert.ok(lost[0][1] < read.revision);
    await client.put('/w/config', 'next');
    await waitUntil('the next write taken', () => seen.includes('next'), 10_000);
    assert.deepEqual(seen, ['<deleted>', 'after', 'next']);
  } finally {
    stop();
  }
});

test('etcd rebuilt and written past the revision given before the watch opens: the key rewritten there is taken, told by the revision the key was read at', async () => {
  for (let i = 0; i < 10; i++) await client.put('/v/unrelated', String(i));
  await client.put('/v/config', 'before');
  const read = await client.range('/v/config');
  const keyAt = read.kvs[0].modRevision;
  await etcd.wipe();
  // The new etcd: the key pushed again, then written on past the revision the read gave, so no
  // watch from there, and no store revision below it, can tell that the history went back.
  const rewritten = await client.put('/v/config', 'rebuilt');
  assert.notEqual(rewritten, keyAt);
  let store = rewritten;
  while (store <= read.revision) store = await client.put('/v/unrelated', 'on');
  const seen: string[] = [];
  const lost: [number, number][] = [];
  const stop = startFollowing(
    client,
    '/v/config',
    read.revision + 1,
    {
      onValue: (kv) => seen.push(kv?.value ?? '<deleted>'),
      onReachable: () => {},
      onHistoryLost: (from, now) => lost.push([from, now]),
    },
    true,
    keyAt,
  );
  try {
    await waitUntil(
      'the key rewritten below the revision given taken',
      () => seen.includes('rebuilt'),
      10_000,
    );
    assert.deepEqual(seen, ['rebuilt']);
    assert.deepEqual(lost, [[read.revision, rewritten]]);
    await client.put('/v/config', 'next');
    await waitUntil('the next write taken', () => seen.includes('next'), 10_000);
    assert.deepEqual(seen, ['rebuilt', 'next']);
  } finally {
    stop.stop();
  }
});
