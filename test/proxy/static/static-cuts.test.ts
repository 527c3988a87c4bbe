/**
 * routes[].static when the file changes under the gateway: a file truncated while it is sent is
 * cut, never finished as whole (the client never gets its Content-Length, the log says
 * http_response_incomplete); a file removed while sent, or one a new file is renamed over, is
 * read whole from its open descriptor (the bytes its head described); a file or directory swapped
 * for a symbolic link out of root, at any moment, never has a byte of the outside file read.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const dir = tempDir('candor-static-cut-');
const root = join(dir, 'site');
const SIZE = 32 * 1024 * 1024;
let gw: TestGateway;

before(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(dir, 'elsewhere'), { recursive: true });
  writeFileSync(join(dir, 'elsewhere', 'page.txt'), 'outside root');
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

/** A GET read slowly: its head, then `change()` once the first bytes came, then the rest until the connection ends. */
function slowGet(path: string, id: string, change: () => void): Promise<{ head: string; bodyBytes: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    let head = '';
    let bodyBytes = 0;
    let changed = false;
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('slow GET not over in 20 s'));
    }, 20_000);
    socket.on('data', (chunk: Buffer) => {
      if (head === '') {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        head = buffered.subarray(0, end).toString('latin1');
        bodyBytes = buffered.length - end - 4;
      } else bodyBytes += chunk.length;
      if (!changed) {
        changed = true;
        // The gateway is held by a client that stopped reading: the change lands mid-transfer.
        socket.pause();
        change();
        setTimeout(() => socket.resume(), 50);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ head, bodyBytes });
    });
    socket.on('error', () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
  });
}

test('a file truncated while it is sent is cut, never finished as whole, and logged http_response_incomplete', async () => {
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(SIZE, 7));
  const got = await slowGet('/big.bin', 'cut-1', () => truncateSync(join(root, 'big.bin'), 1024 * 1024));
  assert.match(got.head, /^HTTP\/1\.1 200 /);
  assert.match(got.head, new RegExp(`content-length: ${SIZE}`, 'i'));
  assert.ok(got.bodyBytes < SIZE, `the client got ${got.bodyBytes} of ${SIZE} bytes`);
  const line = await gw.logFor('cut-1');
  assert.equal(line.status, 200);
  assert.equal(line.error, 'http_response_incomplete', JSON.stringify(line));
});

test('a file removed while it is sent is sent whole from its open descriptor: the bytes its head told', async () => {
  writeFileSync(join(root, 'gone.bin'), Buffer.alloc(SIZE, 9));
  const got = await slowGet('/gone.bin', 'gone-1', () => unlinkSync(join(root, 'gone.bin')));
  assert.equal(got.bodyBytes, SIZE);
  const line = await gw.logFor('gone-1');
  assert.equal(line.error, undefined, JSON.stringify(line));
  assert.equal((await request(gw.url, { path: '/gone.bin' })).status, 404);
});

test('a file replaced while it is sent (a new inode renamed over its name, as a deploy writes) is sent whole from its open descriptor; the next request gets the new file', async () => {
  writeFileSync(join(root, 'swap.bin'), Buffer.alloc(SIZE, 3));
  const before = await request(gw.url, { path: '/swap.bin', method: 'HEAD' });
  const got = await slowGet('/swap.bin', 'swap-1', () => {
    writeFileSync(join(dir, 'swap.new'), Buffer.alloc(SIZE / 2, 4));
    renameSync(join(dir, 'swap.new'), join(root, 'swap.bin'));
  });
  assert.match(got.head, new RegExp(`content-length: ${SIZE}`, 'i'));
  assert.equal(got.bodyBytes, SIZE);
  const line = await gw.logFor('swap-1');
  assert.equal(line.error, undefined, JSON.stringify(line));
  const after = await request(gw.url, { path: '/swap.bin', method: 'HEAD' });
  assert.equal(after.headers['content-length'], String(SIZE / 2));
  assert.notEqual(after.headers.etag, before.headers.etag);
});

test('a file rewritten in place while it is sent is cut at its last bytes (its time changed)', async () => {
  writeFileSync(join(root, 'edit.bin'), Buffer.alloc(SIZE, 1));
  const got = await slowGet('/edit.bin', 'edit-1', () => {
    // Same size, new time: only the check after the read can see it.
    setTimeout(() => writeFileSync(join(root, 'edit.bin'), Buffer.alloc(SIZE, 2)), 10);
  });
  assert.ok(got.bodyBytes < SIZE, `the client got ${got.bodyBytes} of ${SIZE} bytes`);
  const line = await gw.logFor('edit-1');
  assert.equal(line.error, 'http_response_incomplete', JSON.stringify(line));
});

test('a file or a directory swapped for a symbolic link out of root, again and again, never serves the outside file', async () => {
  writeFileSync(join(root, 'page.txt'), 'inside root');
  writeFileSync(join(root, 'sub', 'page.txt'), 'inside sub');
  symlinkSync(join(dir, 'elsewhere', 'page.txt'), join(dir, 'file-link'));
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'dir-link'));
  let swapping = true;
  const swapper = (async () => {
    while (swapping) {
      // rename(2) replaces the name at once: the gateway finds the file, the link, or nothing.
      renameSync(join(root, 'page.txt'), join(dir, 'page.saved'));
      renameSync(join(dir, 'file-link'), join(root, 'page.txt'));
      renameSync(join(root, 'sub'), join(dir, 'sub.saved'));
      renameSync(join(dir, 'dir-link'), join(root, 'sub'));
      await new Promise((r) => setImmediate(r));
      renameSync(join(root, 'page.txt'), join(dir, 'file-link'));
      renameSync(join(dir, 'page.saved'), join(root, 'page.txt'));
      renameSync(join(root, 'sub'), join(dir, 'dir-link'));
      renameSync(join(dir, 'sub.saved'), join(root, 'sub'));
      await new Promise((r) => setImmediate(r));
    }
  })();
  const seen = new Map<string, number>();
  for (let i = 0; i < 150; i++) {
    const [file, sub] = await Promise.all([
      request(gw.url, { path: '/page.txt' }),
      request(gw.url, { path: '/sub/page.txt' }),
    ]);
    for (const res of [file, sub]) {
      const key = `${res.status} ${res.status === 200 ? res.text : ''}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  swapping = false;
  await swapper;
  assert.ok(![...seen.keys()].some((k) => k.includes('outside')), JSON.stringify([...seen]));
  // Both sides of the swap were met: the link (404) and the file.
  assert.ok(seen.has('404 '), JSON.stringify([...seen]));
  assert.ok(seen.has('200 inside root') || seen.has('200 inside sub'), JSON.stringify([...seen]));
});
