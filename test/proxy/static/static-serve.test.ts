/**
 * routes[].static through `candor serve` (two workers): a root named relative to the config file,
 * a file with its validators and 304, a precompressed sibling, the fallback, a 405 and a path that
 * tries to leave root; each logged as the gateway's own answer, with no upstream.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-static-serve-');
let serve: ServeProcess | undefined;

after(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('candor serve answers a static route from its root: 200, 304, precompressed, fallback, 405, never outside root', async () => {
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'site', 'index.html'), '<h1>shell</h1>');
  writeFileSync(join(dir, 'site', 'app.css'), 'body{}');
  writeFileSync(join(dir, 'site', 'app.css.gz'), 'GZ');
  writeFileSync(join(dir, 'secret.txt'), 'outside root');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: edge-static
listen:
  - address: 127.0.0.1:0
routes:
  - match: { path: / }
    static: { root: site, fallback: /index.html, precompressed: [gzip], cache_control: no-cache }
`,
  );
  serve = await startServe(config, 2);
  const url = `http://127.0.0.1:${serve.port}`;
  const css = await request(url, { path: '/app.css', headers: { 'x-request-id': 'css-1' } });
  assert.equal(css.status, 200);
  assert.equal(css.text, 'body{}');
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  assert.equal(css.headers['cache-control'], 'no-cache');
  const again = await request(url, {
    path: '/app.css',
    headers: { 'if-none-match': String(css.headers.etag) },
  });
  assert.equal(again.status, 304);
  const gz = await request(url, { path: '/app.css', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.text, 'GZ');
  assert.equal(gz.headers['content-encoding'], 'gzip');
  const deep = await request(url, { path: '/settings/profile' });
  assert.equal(deep.text, '<h1>shell</h1>');
  const out = await rawRequest(
    serve.port,
    'GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.ok(!out.raw.includes('outside root'), out.raw);
  const post = await request(url, { path: '/app.css', method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  await serve.waitForLines('request', 6);
  const line = serve.lines.find((l) => l.msg === 'request' && l.client_req_id === 'css-1');
  assert.equal(line?.status, 200);
  assert.equal(line?.upstream, undefined);
  assert.equal(line?.attempts, 0);
});
