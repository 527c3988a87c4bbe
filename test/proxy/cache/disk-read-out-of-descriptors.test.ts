/**
 * A read of `cache.dir` that fails for want of a file descriptor (a real EMFILE: the process's
 * open-file limit lowered with prlimit) is no damaged file: it is counted as
 * `candor_cache_disk_failures_total{kind="read"}`, never as `unread`, which the docs keep for a
 * stored file that was no answer whole (cut, changed, not a regular file). The file stays.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { cachedPages, storedIn } from '../../helpers/cached-pages.ts';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue } from '../../observe/metrics/scrape.ts';

/** One Host for both gateways: it is part of the key, so the reader looks for the writer's file. */
const host = { host: 'pages.test' };

async function diskFailures(gw: TestGateway, kind: string): Promise<number | undefined> {
  const all = samples((await gw.gateway.metrics.exposition()).text);
  return sampleValue(all, 'candor_cache_disk_failures_total', { route: 'pages', kind });
}

test('a cache.dir read that fails EMFILE is counted as kind="read", not as a damaged file ("unread")', async (t) => {
  const upstream = await listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.end('stored page');
  });
  t.after(() => upstream.close());
  const dir = tempDir('candor-cache-emfile-');
  const yaml = cachedPages(upstream.url, `{ dir: ${dir} }`);
  // Two gateways on one folder stand in for two workers: the second reads what the first wrote.
  const writer = await startTestGateway(yaml);
  t.after(() => writer.close());
  const reader = await startTestGateway(yaml);
  t.after(() => reader.close());

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const writerAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => writerAgent.destroy());
  assert.equal((await get(writer.url, '/pages/home', writerAgent, host)).status, 200);
  await waitUntil('the answer written to the folder', () => storedIn(dir).length === 1);
  // The reader's kept-alive connection, opened before the descriptors run out.
  assert.equal((await get(reader.url, '/pages/other', agent, host)).status, 200);
  // Its answer's file written (and its descriptor closed) before the descriptors run out.
  await waitUntil('the second answer written', () => storedIn(dir).length === 2);

  const release = exhaustDescriptors();
  try {
    // Its memory misses, the folder's read fails EMFILE (and so does the upstream connect).
    await get(reader.url, '/pages/home', agent, host);
  } finally {
    release();
  }
  assert.equal(await diskFailures(reader, 'read'), 1);
  assert.equal(await diskFailures(reader, 'unread'), undefined);
  // The file was not at fault: it stays in the folder, for the other workers.
  assert.equal(storedIn(dir).length, 2);
});
