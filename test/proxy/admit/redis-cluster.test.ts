/**
 * A store pointed at one node of a Redis Cluster (two real `redis-server`s in cluster mode, the
 * slots split between them): a key whose slot the other node serves is answered MOVED with that
 * node's address. The call fails as the store's (on_error, the session store's 503), and the
 * words a client sees name the redirection, never the other node's address (an address inside
 * the network, shown to no client without `errors.expose_upstream_address`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { Failure } from '../../../src/core/failure/failure.ts';
import { SessionStore } from '../../../src/proxy/admit/oidc/session-store.ts';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const folder = tempDir('candor-redis-cluster-');
const children: ChildProcess[] = [];
const admins: Redis[] = [];

/**
 * One cluster-mode node (its nodes file in the test's folder), and a connection to run its CLUSTER
 * commands. A port another test took between freePort and the node's bind ends the node at once:
 * it is started again on another (a loaded run once waited out 15 s on a node that had exited).
 */
async function startNode(): Promise<{ port: number; admin: Redis }> {
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const cluster = [
      '--dir',
      folder,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
    ];
    const child = spawn('redis-server', [...args, ...cluster], { stdio: 'ignore' });
    children.push(child);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const admin = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50 });
    admin.on('error', () => {});
    admins.push(admin);
    // One connect: a first one made before the node listens fails, and the client's retries
    // (retryStrategy) go on until it does; connect() again would only say it is already connecting.
    admin.connect().catch(() => {});
    await waitUntil('the node listening, or gone', () => admin.status === 'ready' || exited);
    if (admin.status === 'ready') return { port, admin };
    admin.disconnect();
    if (tries === 3)
      throw new Error(`redis-server exited three times before it listened (last port ${port})`);
  }
}

let near: { port: number; admin: Redis };
let far: { port: number; admin: Redis };

before(async () => {
  near = await startNode();
  far = await startNode();
  await near.admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '8191');
  await far.admin.call('CLUSTER', 'ADDSLOTSRANGE', '8192', '16383');
  await near.admin.call('CLUSTER', 'MEET', '127.0.0.1', String(far.port));
  await waitUntil(
    'the near node knows the far one’s slots',
    async () => String(await near.admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'),
    10_000,
  );
});

after(async () => {
  await closeAll(admins, children);
  rmSync(folder, { recursive: true, force: true });
});

const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;
const quiet = { info: () => {}, warn: () => {} } as never;

/** A key of `prefix` + `suffix(n)` whose slot the far node serves. */
async function farKey(name: (n: number) => string): Promise<string> {
  for (let n = 0; ; n++) {
    const slot = Number(await near.admin.call('CLUSTER', 'KEYSLOT', name(n)));
    if (slot >= 8192) return name(n).split(':').at(-1) as string;
  }
}

test('a rate limit whose key another node serves: MOVED and its slot, never that node’s address', async () => {
  const key = await farKey((n) => `c:rl:1:r:k${n}`);
  const rates = new RedisRates(
    { url: `redis://127.0.0.1:${near.port}`, onError: 'deny', timeout: 1000, prefix: 'c:' },
    quiet,
    { storeState: () => {}, storeFallback: () => {} },
  );
  try {
    await rates.settled();
    const verdict = await rates.take('r', limit, key);
    const why = (verdict as { storeDenied: string }).storeDenied;
    assert.match(why, /^MOVED \d+: Redis is a cluster node, and another node serves this key's slot/);
    assert.ok(!why.includes(String(far.port)), why);
    assert.equal(rates.status().state, 'down');
    assert.ok(!String(rates.status().reason).includes(String(far.port)));
  } finally {
    await rates.close();
  }
});

test('a session whose key another node serves: the store’s 503, MOVED and its slot, never that node’s address', async () => {
  const id = await farKey((n) => `c:oidc:id${n}`);
  const sessions = new SessionStore(
    { url: `redis://127.0.0.1:${near.port}`, timeout: 1000, prefix: 'c:' },
    quiet,
  );
  try {
    await waitUntil('connected', () => sessions.status().state === 'up');
    const got = await sessions.get(id);
    assert.ok(got instanceof Failure);
    assert.equal(got.type, 'destination_unavailable');
    assert.match(got.details, /^the session store did not answer: MOVED \d+: Redis is a cluster node/);
    assert.ok(!got.details.includes(String(far.port)), got.details);
  } finally {
    sessions.close();
  }
});
