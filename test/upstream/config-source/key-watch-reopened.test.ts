/**
 * A watch taken for lost (`reopen`: the gateway's lease found etcd silent) while the read that
 * checks its history is still under way: that read, when it comes, belongs to a watch that is
 * over, and opens nothing. Acted on, it opened a watch of its own beside the one the reopen's
 * retry opens, and stop() ended only one of them: the other went on watching, and could give a
 * value after the stop. A proxy in front of etcd holds the read and counts the watch streams.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { startFollowing } from '../../../src/upstream/config-source/key-watch.ts';
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

/**
 * etcd behind a proxy that can hold the answers of its reads (/v3/kv/range: the read is made at
 * once, its answer given when released, as a slow network would) and counts the watch streams.
 */
async function holdingProxy(target: string) {
  const { hostname, port } = new URL(target);
  const state = { holding: false, held: [] as (() => void)[], watchesOpened: 0, watchesOpen: 0 };
  const server = http.createServer((req, res) => {
    const held = req.url === '/v3/kv/range' && state.holding;
    const upstream = http.request(
      { host: hostname, port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        if (!held) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () =>
          state.held.push(() => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          }),
        );
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
    if (req.url === '/v3/watch') {
      state.watchesOpened++;
      state.watchesOpen++;
      res.on('close', () => state.watchesOpen--);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release() {
      state.holding = false;
      for (const go of state.held.splice(0)) go();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

test('a watch taken for lost while its history check reads: the read opens nothing, and stop() leaves no watch open', async () => {
  for (let i = 0; i < 10; i++) await client.put('/r/unrelated', String(i));
  await client.put('/r/config', 'before');
  const read = await client.range('/r/config');
  // Restored empty: the check's read, once it comes, finds the history gone back.
  await etcd.wipe();
  const proxy = await holdingProxy(etcd.endpoint);
  const viaProxy = new EtcdClient({ endpoints: [proxy.endpoint], timeoutMs: 10_000 });
  proxy.state.holding = true;
  const seen: string[] = [];
  const lost: number[] = [];
  const following = startFollowing(viaProxy, '/r/config', read.revision + 1, {
    onValue: (kv) => seen.push(kv?.value ?? '<deleted>'),
    onReachable: () => {},
    onHistoryLost: (from) => lost.push(from),
  });
  try {
    await waitUntil("the history check's read held", () => proxy.state.held.length === 1, 10_000);
    following.reopen('the lease was not renewed');
    proxy.release();
    // The reopen's retry opens a watch, checks it, finds the history gone back and watches on.
    await waitUntil('the history gone back said', () => lost.length === 1, 10_000);
    await waitUntil('the watch after it open', () => proxy.state.watchesOpened >= 3, 10_000);
    await client.put('/r/config', 'after');
    await waitUntil("the new etcd's write taken", () => seen.includes('after'), 10_000);
    assert.equal(proxy.state.watchesOpen, 1, 'one watch open');
    following.stop();
    await waitUntil('no watch open after stop()', () => proxy.state.watchesOpen === 0, 5_000);
    await client.put('/r/config', 'late');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(seen, ['<deleted>', 'after']);
    assert.deepEqual(lost, [read.revision]);
  } finally {
    following.stop();
    await proxy.close();
  }
});

test("a write the watch gives while its history check's read is under way: the read, older, gives nothing after it", async () => {
  const from = await client.put('/q/config', 'before');
  const proxy = await holdingProxy(etcd.endpoint);
  const viaProxy = new EtcdClient({ endpoints: [proxy.endpoint], timeoutMs: 10_000 });
  proxy.state.holding = true;
  const seen: string[] = [];
  const lost: number[] = [];
  const following = startFollowing(viaProxy, '/q/config', from + 1, {
    onValue: (kv) => seen.push(kv?.value ?? '<deleted>'),
    onReachable: () => {},
    onHistoryLost: (at) => lost.push(at),
  });
  try {
    await waitUntil("the history check's read held", () => proxy.state.held.length === 1, 10_000);
    await client.put('/q/config', 'after');
    await waitUntil('the write given by the watch', () => seen.includes('after'), 10_000);
    proxy.release();
    await waitUntil('the read answered', () => proxy.state.held.length === 0, 10_000);
    await client.put('/q/config', 'next');
    await waitUntil('the next write given', () => seen.includes('next'), 10_000);
    assert.deepEqual(seen, ['after', 'next']);
    assert.deepEqual(lost, []);
  } finally {
    following.stop();
    await proxy.close();
  }
});
