/**
 * Another worker's invalidation (the news its primary relays) removes the file of cache.dir this
 * worker wrote: stored here in the instant before the news came, its write landed after that
 * worker removed the file it found, and this worker (any worker, and the gateway after a restart)
 * read the old answer back from it. A real gateway on real sockets, told the news as its primary
 * relays it (an IPC message to this process).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/load.ts';
import { createLoggerOn } from '../../src/observe/log/logger.ts';
import { cacheKey } from '../../src/proxy/cache/cache-key.ts';
import { ClusterLink } from '../../src/server/gateway/cluster-link.ts';
import { startGateway } from '../../src/server/gateway/gateway.ts';
import { request } from '../helpers/http-client.ts';
import { listenOnLoopback } from '../helpers/loopback-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { cachedPages } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

test("another worker's invalidation removes this worker's file of the key: the next GET goes upstream", async (t) => {
  let version = 1;
  const up = await listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.end(`v${version}`);
  });
  t.after(() => up.close());
  const dir = tempDir('candor-cache-news-');
  const file = cachedPages(up.url, `{ dir: ${dir} }`).replace(
    'name: edge-1\n',
    'name: edge-1\nlisten:\n  - address: 127.0.0.1:0\n',
  );
  const link = new ClusterLink({ index: 0, of: 1 }, []);
  t.after(() => link.close());
  const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const gateway = await startGateway(parseConfig(file, '<test>', {}), {
    logger: createLoggerOn(quiet, 'info', 'edge'),
    cluster: link,
  });
  t.after(() => gateway.close());
  const url = `http://127.0.0.1:${gateway.listeners[0].port()}`;
  assert.equal((await request(url, { path: '/pages/a' })).text, 'v1');
  const files = () => readdirSync(join(dir, 'pages')).filter((name) => /^[0-9a-f]{64}$/.test(name));
  await waitUntil('the answer written to the directory', () => files().length === 1);
  version = 2;
  const keys = ['http', 'https'].map((scheme) => cacheKey(new URL(url).host, '/pages/a', scheme));
  process.emit('message', { candor: 'cache-invalidated', route: 'pages', keys }, undefined);
  // Removed in the background (every worker hears of every unsafe request): a read after the news waits for it.
  const again = await request(url, { path: '/pages/a' });
  assert.equal(again.text, 'v2');
  assert.equal(again.headers['cache-status'], 'edge-1; fwd=uri-miss');
});
