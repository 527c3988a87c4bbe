/**
 * A static route's 301 to a directory's trailing `/` never leads off the site. With
 * `paths.merge_slashes: false` a request path may begin with `//`, and a route at `/` found the
 * directory of `//evil.example` (empty segments skipped) and sent the client to
 * `Location: //evil.example/`: a network-path reference, which every browser follows to the host
 * `evil.example` (an open redirect, as Go's http.FileServer and Caddy's file_server once had).
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('with merge_slashes off, a directory asked as `//name` is sent to `/name/`, never to the host `name`', async (t) => {
  const root = tempDir('candor-static-redirect-');
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'evil.example'));
  writeFileSync(join(root, 'evil.example', 'index.html'), '<h1>a folder</h1>');
  const gw = await startTestGateway(`name: edge-1
paths: { merge_slashes: false }
routes:
  - match: { path: / }
    static: { root: ${root} }
`);
  t.after(() => gw.close());
  for (const [target, location] of [
    ['//evil.example', '/evil.example/'],
    ['///evil.example?x=1', '/evil.example/?x=1'],
    ['/evil.example', '/evil.example/'],
  ]) {
    const res = await rawRequest(gw.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(res.raw, /^HTTP\/1\.1 301 /, target);
    assert.match(res.raw, new RegExp(`\r\nlocation: ${location.replace(/[?.]/g, '\\$&')}\r\n`, 'i'), res.raw);
  }
  const index = await rawRequest(
    gw.port,
    'GET //evil.example/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.match(index.raw, /^HTTP\/1\.1 200 /);
  assert.ok(index.raw.endsWith('<h1>a folder</h1>'), index.raw);
});
