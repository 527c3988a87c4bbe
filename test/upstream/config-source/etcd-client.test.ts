/**
 * The etcd client on a real etcd (Debian's etcd-server) on loopback: reads at a revision, the
 * compare-and-swap, leases, a user's token, and a key followed across a compaction and a restart.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  EtcdClient,
  type EtcdError,
  type KeyValue,
} from '../../../src/upstream/config-source/etcd-client.ts';
import { followKey } from '../../../src/upstream/config-source/key-watch.ts';
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

test('range reads a key now and as it was at an older revision; a compacted one is EtcdError compacted', async () => {
  const first = await client.put('/t/range', 'one');
  const second = await client.put('/t/range', 'two');
  assert.equal((await client.range('/t/range')).kvs[0].value, 'two');
  const old = (await client.range('/t/range', { revision: first })).kvs[0];
  assert.deepEqual([old.value, old.modRevision, old.version], ['one', first, 1]);
  await fetch(`${etcd.endpoint}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: String(second) }),
  });
  await assert.rejects(
    client.range('/t/range', { revision: first }),
    (err: EtcdError) => err.kind === 'compacted',
  );
});

test('putIf writes only while the key is at the revision read, and reads what is there instead', async () => {
  const read = await client.put('/t/cas', 'base');
  const won = await client.putIf(
    [{ key: '/t/cas', target: 'mod', equals: read }],
    [{ key: '/t/cas', value: 'mine' }],
    ['/t/cas'],
  );
  assert.equal(won.succeeded, true);
  const lost = await client.putIf(
    [{ key: '/t/cas', target: 'mod', equals: read }],
    [{ key: '/t/cas', value: 'theirs' }],
    ['/t/cas'],
  );
  assert.equal(lost.succeeded, false);
  assert.equal(lost.succeeded === false && lost.read[0].value, 'mine');
  // An absent key: its version is 0.
  const fresh = await client.putIf(
    [{ key: '/t/new', target: 'version', equals: 0 }],
    [{ key: '/t/new', value: 'x' }],
    [],
  );
  assert.equal(fresh.succeeded, true);
});

test('a key bound to a lease goes when the lease is revoked; keepAlive on a gone lease says 0', async () => {
  const lease = await client.grantLease(30);
  await client.put('/t/leased', 'alive', lease);
  assert.equal(await client.keepAlive(lease), 30);
  await client.revoke(lease);
  assert.equal((await client.range('/t/leased')).kvs.length, 0);
  assert.equal(await client.keepAlive(lease), 0);
});

test('a follower that starts behind a compaction gets the latest value read afresh, then the next writes', async () => {
  const from = await client.put('/t/follow', 'v1');
  for (const v of ['v2', 'v3', 'v4']) await client.put('/t/follow', v);
  const latest = await client.put('/t/other', 'moves the store on');
  await fetch(`${etcd.endpoint}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: String(latest) }),
  });
  const seen: string[] = [];
  const stop = followKey(client, '/t/follow', from + 1, {
    onValue: (kv: KeyValue | undefined) => seen.push(kv?.value ?? '<deleted>'),
    onReachable: () => {},
  });
  try {
    await waitUntil('the latest value re-read', () => seen.length === 1);
    assert.deepEqual(seen, ['v4']);
    await client.put('/t/follow', 'v5');
    await waitUntil('the next write seen', () => seen.length === 2);
    assert.deepEqual(seen, ['v4', 'v5']);
  } finally {
    stop();
  }
});

test('a follower says etcd is unreachable when it stops, and takes the writes made once it is back', async () => {
  const from = await client.put('/t/restart', 'before');
  const seen: string[] = [];
  const reach: boolean[] = [];
  const stop = followKey(client, '/t/restart', from + 1, {
    onValue: (kv) => seen.push(kv?.value ?? '<deleted>'),
    onReachable: (reachable) => reach.push(reachable),
  });
  try {
    await new Promise((r) => setTimeout(r, 200));
    await etcd.kill();
    await waitUntil('unreachable said', () => reach.length === 1, 5_000);
    assert.deepEqual(reach, [false]);
    await etcd.start();
    await client.put('/t/restart', 'after');
    await waitUntil('the write after the restart seen', () => seen.includes('after'), 10_000);
    assert.deepEqual(seen, ['after']);
    assert.deepEqual(reach, [false, true]);
  } finally {
    stop();
  }
});

test('with a user: the token is taken from the password; a wrong password is refused, not unreachable', async () => {
  // etcdctl is not in Debian's etcd-server: the same calls through the JSON gateway.
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
  const user = new EtcdClient({ endpoints: [etcd.endpoint], username: 'candor', password: 'candor-secret' });
  await user.put('/fleet/config', 'by candor');
  assert.equal((await user.range('/fleet/config')).kvs[0].value, 'by candor');
  // Outside its prefix: etcd's refusal, said as such.
  await assert.rejects(
    user.put('/elsewhere', 'x'),
    (err: EtcdError) => err.kind === 'refused' && /permission denied/.test(err.message),
  );
  const wrong = new EtcdClient({ endpoints: [etcd.endpoint], username: 'candor', password: 'nope' });
  await assert.rejects(
    wrong.range('/fleet/config'),
    (err: EtcdError) => err.kind === 'refused' && /authentication failed/.test(err.message),
  );
  const anonymous = new EtcdClient({ endpoints: [etcd.endpoint] });
  await assert.rejects(anonymous.range('/fleet/config'), (err: EtcdError) => err.kind === 'refused');
});

test('every endpoint is tried in turn: a dead first member does not stop the call', async () => {
  const both = new EtcdClient({
    endpoints: ['http://127.0.0.1:1', etcd.endpoint],
    username: 'candor',
    password: 'candor-secret',
  });
  assert.equal((await both.range('/fleet/config')).kvs[0].value, 'by candor');
  const none = new EtcdClient({ endpoints: ['http://127.0.0.1:1'] });
  await assert.rejects(
    none.range('/x'),
    (err: EtcdError) =>
      err.kind === 'unreachable' && /127\.0\.0\.1:1: connect ECONNREFUSED/.test(err.message),
  );
});
