/**
 * routes[].static when the file system changes in ways a file's modification time does not show:
 * a file rewritten in place and its time put back (`cp -p`, `rsync --inplace -t`, a reproducible
 * build's fixed SOURCE_DATE_EPOCH time) is told by its change time (ctime, which no one can set):
 * while it is sent, the transfer is cut; between two requests, its ETag is another (no 304, no
 * 206 of the new bytes under the old tag). And the gateway out of descriptors when it opens a
 * file: a 503 that says so (never a word of an upstream the route does not have), then served
 * again once descriptors are back.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const dir = tempDir('candor-static-fs-');
const root = join(dir, 'site');
const SIZE = 32 * 1024 * 1024;
/** A reproducible build's time (SOURCE_DATE_EPOCH): whole seconds, so set again to the nanosecond. */
const FIXED = 1_000_000_000;
let gw: TestGateway;

before(async () => {
  mkdirSync(root, { recursive: true });
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    static: { root: ${root} }
`);
});

after(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `body` over the file in place (the same inode, no truncation) and puts its time back to FIXED. */
function rewriteInPlace(path: string, body: Buffer): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, body, 0, body.length, 0);
  closeSync(fd);
  utimesSync(path, FIXED, FIXED);
}

/** A GET read slowly: `change()` once the head came, with the client not reading; then every byte until the connection ends. */
function slowGet(path: string, id: string, change: () => void): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let changed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('slow GET not over in 20 s'));
    }, 20_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (changed) return;
      changed = true;
      socket.pause();
      change();
      setTimeout(() => socket.resume(), 50);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      resolve({ head: all.subarray(0, end).toString('latin1'), body: all.subarray(end + 4) });
    });
    socket.on('error', () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
  });
}

test('a file rewritten in place while it is sent, its time put back to the nanosecond, is cut: never old and new bytes finished as whole', async () => {
  const path = join(root, 'build.bin');
  writeFileSync(path, Buffer.alloc(SIZE, 1));
  utimesSync(path, FIXED, FIXED);
  const got = await slowGet('/build.bin', 'inplace-1', () => rewriteInPlace(path, Buffer.alloc(SIZE, 2)));
  assert.match(got.head, /^HTTP\/1\.1 200 /);
  assert.match(got.head, new RegExp(`content-length: ${SIZE}`, 'i'));
  assert.ok(got.body.length < SIZE, `the client got ${got.body.length} of ${SIZE} bytes`);
  const line = await gw.logFor('inplace-1');
  assert.equal(line.status, 200);
  assert.equal(line.error, 'http_response_incomplete', JSON.stringify(line));
  assert.equal(line.details, 'the file changed while it was read');
});

test('a file rewritten in place between two requests, of the same size and time, has another ETag: no 304, no 206 of the new bytes under the old tag', async () => {
  const path = join(root, 'app.js');
  writeFileSync(path, 'version-A');
  utimesSync(path, FIXED, FIXED);
  const first = await request(gw.url, { path: '/app.js' });
  assert.equal(first.text, 'version-A');
  // A kernel without fine-grained timestamps ticks its clock every few milliseconds: the rewrite lands on another tick.
  await new Promise((resolve) => setTimeout(resolve, 20));
  writeFileSync(path, 'version-B');
  utimesSync(path, FIXED, FIXED);
  const revalidated = await request(gw.url, {
    path: '/app.js',
    headers: { 'if-none-match': String(first.headers.etag) },
  });
  assert.equal(revalidated.status, 200);
  assert.equal(revalidated.text, 'version-B');
  assert.notEqual(revalidated.headers.etag, first.headers.etag);
  // Its Last-Modified is the same: only the ETag can tell, and If-Range by it gets the whole file.
  assert.equal(revalidated.headers['last-modified'], first.headers['last-modified']);
  const resumed = await request(gw.url, {
    path: '/app.js',
    headers: { range: 'bytes=4-', 'if-range': String(first.headers.etag) },
  });
  assert.equal(resumed.status, 200);
  assert.equal(resumed.text, 'version-B');
});

test('out of file descriptors when it opens a file: a 503 with Retry-After that names the file, not an upstream; served again once descriptors are back', async () => {
  writeFileSync(join(root, 'page.txt'), 'page');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.equal((await get(gw.url, '/page.txt', agent)).status, 200);
    const release = exhaustDescriptors();
    let out: Awaited<ReturnType<typeof get>>;
    try {
      out = await get(gw.url, '/page.txt', agent, { 'x-request-id': 'emfile-1' });
    } finally {
      release();
    }
    assert.equal(out.status, 503);
    assert.equal(out.headers['retry-after'], '1');
    assert.equal(
      out.headers['proxy-status'],
      'edge-1; error=connection_limit_reached; details="a static file could not be opened (EMFILE)"',
    );
    assert.match(out.text, /^503 Service Unavailable: Gateway out of resources\n/);
    assert.match(out.text, /the gateway could not open the file: it ran out of its own file descriptors/);
    assert.doesNotMatch(out.text, /upstream/);
    const line = await gw.logFor('emfile-1');
    assert.equal(line.error, 'proxy_resources_exhausted');
    const again = await get(gw.url, '/page.txt', agent);
    assert.equal(again.status, 200);
    assert.equal(again.text, 'page');
  } finally {
    agent.destroy();
  }
});
