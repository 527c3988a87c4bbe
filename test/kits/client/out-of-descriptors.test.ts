/**
 * candor/client in a process out of file descriptors (RLIMIT_NOFILE lowered with prlimit to the
 * descriptors it holds): the connect fails EMFILE, the process's own want, which says nothing of
 * the origin. It opened the origin's circuit as a refusal would: once descriptors were back,
 * calls failed UPSTREAM_CIRCUIT_OPEN for `openTime`, the origin never asked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import { exhaustDescriptors } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

test('a call that meets EMFILE does not open the origin’s circuit: the next call, descriptors back, reaches it', async (t) => {
  const seen: string[] = [];
  const origin = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    res.end('ok');
  });
  t.after(() => origin.close());
  const api = createFetch({ attempts: 1, circuitBreaker: { failures: 1, openTime: 60_000 } });

  const release = exhaustDescriptors();
  let error: unknown;
  try {
    await api(`${origin.url}/exhausted`);
  } catch (err) {
    error = err;
  } finally {
    release();
  }
  assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
  assert.equal(error.attempts[0]?.type, 'proxy_resources_exhausted');

  const res = await api(`${origin.url}/after`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok');
  assert.deepEqual(seen, ['/after']);
});
