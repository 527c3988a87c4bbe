/**
 * A stored answer's background refresh on a route whose cache is shared on disk waits for the
 * key's lock before its request starts (across-workers.ts). The client's request that decided it
 * has ended by then: the refresh holds the config's runtime meanwhile, so a reload in between
 * does not close the stores and plugins its request will use (retired-snapshots.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Count } from '../../../src/core/limits/count.ts';
import type { DownstreamHead } from '../../../src/core/net/downstream.ts';
import { refreshOnce } from '../../../src/proxy/cache/across-workers.ts';
import { FillLocks } from '../../../src/proxy/cache/fill-lock.ts';
import type { CachedRoute } from '../../../src/proxy/cache/passing-run.ts';
import type { StageRequest } from '../../../src/proxy/stages/stage.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

test('a refresh waiting for the disk lock holds its snapshot until its request starts', async () => {
  const dir = tempDir('candor-refresh-hold-');
  const locks = new FillLocks({
    fileOf: (key) => join(dir, key),
    writesOf: () => Promise.resolve(),
    noted: () => {},
  });
  const snapshot = new Count();
  const heldWhenStarted: number[] = [];
  let started: () => void = () => {};
  const start = new Promise<void>((resolve) => {
    started = resolve;
  });
  const route = {
    cache: {
      startFill: () => () => {},
      // Nothing stored (another worker's answer meanwhile would be the refresh's: storedMeanwhile).
      get: () => undefined,
      disk: { locks, read: () => Promise.resolve(undefined) },
      config: { lockTimeout: 5000 },
    },
    background: () => {
      heldWhenStarted.push(snapshot.count);
      started();
    },
    keepRuntime: () => snapshot.acquire(),
  } as unknown as CachedRoute;
  const head = {
    method: 'GET',
    target: '/a',
    headers: ['Host', 'example.test'],
    remoteAddress: '127.0.0.1',
    encrypted: false,
  } as unknown as DownstreamHead;
  const request = { head, record: { id: 'r1', upstream: 'app' }, listener: {} } as unknown as StageRequest;

  refreshOnce(route, request, 'a', { method: 'GET', url: '/a', headers: { host: 'example.test' } });
  assert.equal(snapshot.count, 1, 'held from the refresh decided, before its lock is had');
  await start;
  assert.deepEqual(heldWhenStarted, [1], 'still held when its request starts (which holds it itself)');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(snapshot.count, 0, 'let go once started');
});
