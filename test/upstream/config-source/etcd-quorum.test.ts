/**
 * The client on a three-member etcd cluster on loopback, where quorum matters: one member down
 * (the first endpoint), writes and the watch go on through the others; two down, no quorum: a
 * write fails as unreachable within its bound, never sent again to another member (it may yet be
 * applied), and the watch says etcd is unreachable (rather than wait on a member with no leader);
 * a member back, both go on, no change missed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EtcdClient, type EtcdError } from '../../../src/upstream/config-source/etcd-client.ts';
import { followKey } from '../../../src/upstream/config-source/key-watch.ts';
import { type EtcdProcess, startEtcdCluster } from '../../helpers/etcd-server.ts';
import { closeAll } from '../../helpers/keep.ts';
import { waitUntil } from '../../helpers/wait.ts';

let members: EtcdProcess[] = [];

before(async () => {
  members = await startEtcdCluster(3);
});
after(() => closeAll(members));

/** A write retried as an operator would re-run a push: a leader election may refuse the first tries. */
async function putWithin(client: EtcdClient, key: string, value: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await client.put(key, value);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

test('one member down, then two, then one back: writes and the watch follow the quorum', async () => {
  const client = new EtcdClient({ endpoints: members.map((m) => m.endpoint), timeoutMs: 2_000 });
  const from = await client.put('/q/config', 'v1');
  const seen: string[] = [];
  const reach: boolean[] = [];
  const stop = followKey(client, '/q/config', from + 1, {
    onValue: (kv) => seen.push(kv?.value ?? '<deleted>'),
    onReachable: (reachable) => reach.push(reachable),
  });
  // A gateway that knows only the member that stays: its watch is open there all along, and
  // must not stay open and silent once that member has no leader.
  const onLast: boolean[] = [];
  const stopLast = followKey(new EtcdClient({ endpoints: [members[2].endpoint] }), '/q/config', from + 1, {
    onValue: () => {},
    onReachable: (reachable) => onLast.push(reachable),
  });
  try {
    await new Promise((r) => setTimeout(r, 200));
    await members[0].kill();
    await putWithin(client, '/q/config', 'v2', 10_000);
    await waitUntil('v2 seen through another member', () => seen.includes('v2'), 10_000);
    await members[1].kill();
    // The member left holds the write as a proposal no quorum commits: no answer, and it is not
    // sent to another member, since it may yet be applied (and is, below, once the quorum is back).
    await assert.rejects(client.put('/q/config', 'pending'), (err: EtcdError) => {
      assert.equal(err.kind, 'unreachable');
      assert.match(
        err.message,
        /^etcd did not answer a write it was sent, which may or may not have been applied \(.*no answer in 2000 ms/,
      );
      return true;
    });
    await waitUntil('the watch saying etcd is unreachable', () => reach.includes(false), 15_000);
    await waitUntil(
      'the watch on the member left saying it has no leader',
      () => onLast.includes(false),
      15_000,
    );
    await members[1].start();
    await putWithin(client, '/q/config', 'v3', 10_000);
    await waitUntil('v3 seen once the quorum is back', () => seen.includes('v3'), 15_000);
    // In revision order, nothing missed: the write that had no answer came through, before v3.
    assert.deepEqual(
      seen.filter((v) => v !== 'pending'),
      ['v2', 'v3'],
    );
    assert.ok(seen.indexOf('pending') === -1 || seen.indexOf('pending') === 1, seen.join(', '));
    assert.equal(reach.at(-1), true);
  } finally {
    stop();
    stopLast();
  }
});
