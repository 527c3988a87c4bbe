/**
 * The etcd client with a user whose token etcd lets expire (--auth-token-ttl 1: a second of
 * disuse; JWT tokens expire so however used): a watch opened with a token that expired is
 * canceled by etcd (Unauthenticated), which is no outage. The client takes a new token and opens
 * the watch again, as a call does: the follower is never told etcd is away, and sees the writes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EtcdClient, type KeyValue } from '../../../src/upstream/config-source/etcd-client.ts';
import { followKey } from '../../../src/upstream/config-source/key-watch.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let etcd: EtcdProcess;

before(async () => {
  etcd = await startEtcd(undefined, ['--auth-token-ttl', '1']);
  const call = async (path: string, body: unknown) => {
    const answer = await fetch(`${etcd.endpoint}/v3/auth/${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    assert.equal(answer.status, 200, `${path}: ${await answer.clone().text()}`);
  };
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  await call('user/add', { name: 'root', password: 'root-secret' });
  await call('user/grant', { user: 'root', role: 'root' });
  await call('user/add', { name: 'candor', password: 'candor-secret' });
  await call('role/add', { name: 'fleet' });
  await call('role/grant', {
    name: 'fleet',
    perm: { permType: 'READWRITE', key: b64('/fleet/'), range_end: b64('/fleet0') },
  });
  await call('user/grant', { user: 'candor', role: 'fleet' });
  await call('enable', {});
});
after(async () => {
  await etcd?.close();
});

test('a watch opened with a token etcd let expire takes a new one: never said unreachable, and the writes are seen', async () => {
  const user = new EtcdClient({ endpoints: [etcd.endpoint], username: 'candor', password: 'candor-secret' });
  const first = await user.put('/fleet/config', 'one');
  // The token taken by that put expires unused.
  await new Promise((r) => setTimeout(r, 2500));
  const told: string[] = [];
  const values: string[] = [];
  const stop = followKey(user, '/fleet/config', first + 1, {
    onValue: (kv: KeyValue | undefined) => values.push(kv?.value ?? '(deleted)'),
    onReachable: (reachable, why) => told.push(`${reachable}: ${why}`),
  });
  try {
    // Written by another client: the follower's own calls take no new token for it.
    const other = new EtcdClient({
      endpoints: [etcd.endpoint],
      username: 'candor',
      password: 'candor-secret',
    });
    await other.put('/fleet/config', 'two');
    await waitUntil('the follower sees the write', () => values.includes('two'), 10_000);
    assert.deepEqual(values, ['two']);
    assert.deepEqual(told, []);
  } finally {
    stop();
  }
});
