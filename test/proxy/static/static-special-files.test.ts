/**
 * routes[].static meeting names under root that are no regular file and that open(2) refuses
 * outright: a Unix socket (ENXIO, as a device file with no device is). Each is a name the route
 * does not serve, as a FIFO is: the 404 (or the fallback; a precompressed sibling skipped for the
 * file itself), never a 500 blaming the gateway for a file it was never meant to read.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const dir = tempDir('candor-static-special-');
const root = join(dir, 'site');
const spa = join(dir, 'spa');
const sockets: Server[] = [];
let gw: TestGateway;

/** A Unix socket listening at `path`: a name in the tree that no open(2) for reading succeeds on. */
function socketAt(path: string): Promise<void> {
  const server = createServer();
  sockets.push(server);
  return new Promise((resolve) => server.listen(path, resolve));
}

before(async () => {
  mkdirSync(join(root, 'room'), { recursive: true });
  mkdirSync(spa, { recursive: true });
  writeFileSync(join(root, 'app.js'), 'x=1');
  writeFileSync(join(spa, 'shell.html'), '<h1>spa</h1>');
  await socketAt(join(root, 'control.sock'));
  // A directory whose index, and a file whose precompressed sibling, are sockets.
  await socketAt(join(root, 'room', 'index.html'));
  await socketAt(join(root, 'app.js.gz'));
  await socketAt(join(spa, 'control.sock'));
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /spa }
    static: { root: ${spa}, fallback: /shell.html }
  - match: { path: / }
    static: { root: ${root}, precompressed: [gzip] }
`);
});

after(async () => {
  await gw?.close();
  for (const server of sockets) server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a Unix socket under root is a name not served: the 404 naming no gateway trouble, for GET and HEAD', async () => {
  for (const path of ['/control.sock', '/room/']) {
    const res = await request(gw.url, { path });
    assert.equal(res.status, 404, path);
    assert.equal(
      res.headers['proxy-status'],
      `edge-1; error=destination_not_found; details="no file for ${path}"`,
    );
    const head = await rawRequest(gw.port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(head.status, 404, `HEAD ${path}`);
  }
});

test('a socket behind a fallback gets the fallback; a socket as a precompressed sibling is skipped for the file', async () => {
  const fallback = await request(gw.url, { path: '/spa/control.sock' });
  assert.equal(fallback.status, 200);
  assert.equal(fallback.text, '<h1>spa</h1>');
  const file = await request(gw.url, { path: '/app.js', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(file.status, 200);
  assert.equal(file.headers['content-encoding'], undefined);
  assert.equal(file.headers['content-length'], '3');
  assert.equal(file.text, 'x=1');
});
