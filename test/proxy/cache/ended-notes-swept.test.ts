/**
 * A route's cache folder after a storm of fills that never end well: each fetch of a key whose
 * client left mid-body (or whose upstream failed) writes a note for the other workers
 * (`<file>.ended`, fill-lock.ts), one file per key. The folder's scan removes those past a
 * minute, but it ran only after 64 answers written: a storm of failed fills of many keys
 * (a scanner's URLs, an origin down) wrote no answer, so nothing ever scanned, and the folder
 * held one file more per key for good (200 fills, 200 files, however old). Counted, never
 * timed: the first storm's notes are made a minute old by their mtime, as time would.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const STORM = 100;

test("a storm of fills whose clients left mid-body leaves no note past a minute old in the route's cache folder", async () => {
  // Each answer: its head (cacheable) and part of its body, then nothing more.
  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '100000' });
    res.write(Buffer.alloc(1000, 97));
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const dir = tempDir('candor-ended-notes-');
  const cache = join(dir, 'cache');
  writeFileSync(
    join(dir, 'candor.yaml'),
    `listen:
  - address: 127.0.0.1:0
log: { level: info, destination: stdout }
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: { dir: ${cache} }
upstreams:
  app:
    circuit_breaker: { consecutive_failures: 0 }
    targets:
      - url: http://127.0.0.1:${(origin.address() as AddressInfo).port}
`,
  );
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(join(dir, 'candor.yaml'), 1);
    const port = serve.port;
    const notes = () => {
      try {
        return readdirSync(join(cache, 'pages')).filter((name) => name.endsWith('.ended'));
      } catch {
        return [];
      }
    };
    // A client that asks for the key and resets its connection once the body has begun.
    const leaveMidBody = (path: string) =>
      new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () =>
          socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`),
        );
        let seen = '';
        socket.on('data', (chunk: Buffer) => {
          seen += chunk.toString('latin1');
          if (/\r\n\r\na/.test(seen)) socket.resetAndDestroy();
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve());
      });
    const storm = async (prefix: string) => {
      for (let i = 0; i < STORM; i += 10)
        await Promise.all(Array.from({ length: 10 }, (_, k) => leaveMidBody(`/pages/${prefix}-${i + k}`)));
    };

    await storm('first');
    await waitUntil(`${STORM} notes written`, () => notes().length >= STORM);
    const first = notes();
    assert.equal(first.length, STORM, 'one note a key');
    // A minute and more has passed for them.
    const old = new Date(Date.now() - 120_000);
    for (const name of first) utimesSync(join(cache, 'pages', name), old, old);

    await storm('second');
    const left = () => notes().filter((name) => first.includes(name)).length;
    await waitUntil(`the second ${STORM} notes written`, () => notes().length - left() === STORM);
    await waitUntil('the old notes removed', () => left() === 0).catch(() => {});
    assert.equal(
      left(),
      0,
      `of ${STORM} notes a minute old, ${left()} still in the folder after ${STORM} more fills`,
    );
  } finally {
    await serve?.stop();
    origin.closeAllConnections();
    origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
