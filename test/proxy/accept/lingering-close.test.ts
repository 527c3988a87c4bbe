/**
 * An answer given while the client is still sending its body (an upload to a refused upstream,
 * a 413) reaches the client: the connection closes in stages (RFC 9112 §9.6), our FIN after
 * the answer and the rest of the body read and dropped, instead of at once, when the kernel's
 * reset would beat the answer to the client and fetch would report EPIPE. A gateway in its own
 * process, as in production: in one process the client's timing hides the race.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const MiB = 1024 * 1024;
let refused: Fault;
let serve: ServeProcess;
const dir = tempDir('candor-linger-');

before(async () => {
  refused = await startRefusing();
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `listen:\n  - address: 127.0.0.1:0\nroutes:\n  - match: { path: /small }\n    upstream: app\n    limits: { body: 1KiB }\n  - upstream: app\n    request_buffering: false\nupstreams:\n  app:\n    targets:\n      - url: ${refused.url}\n    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 0 }\n    retries: { attempts: 1 }\n`,
  );
  serve = await startServe(config, 1);
});

after(async () => {
  await closeAll(serve, refused);
  rmSync(dir, { recursive: true, force: true });
});

/** A 1 MiB body, as a stream (chunked) or whole (with its Content-Length), written as fast as the connection takes it. */
function upload(path: string, whole = false): Promise<Response> {
  const body = Buffer.alloc(MiB, 'x');
  if (whole) return fetch(`http://127.0.0.1:${serve.port}${path}`, { method: 'POST', body });
  const stream = new ReadableStream({
    start(controller) {
      for (let at = 0; at < body.length; at += 16 * 1024)
        controller.enqueue(body.subarray(at, at + 16 * 1024));
      controller.close();
    },
  });
  return fetch(`http://127.0.0.1:${serve.port}${path}`, {
    method: 'POST',
    body: stream,
    duplex: 'half',
  } as RequestInit);
}

test('an upload to a refused upstream gets its 502 with Proxy-Status, every time, not EPIPE', async () => {
  for (let i = 0; i < 10; i++) {
    const res = await upload('/upload');
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('connection'), 'close');
    assert.match(res.headers.get('proxy-status') ?? '', /; error=connection_refused;/);
    await res.text();
  }
});

test('a body over the route limit gets its 413 while the client is still sending it', async () => {
  for (let i = 0; i < 5; i++) {
    const res = await upload('/small/upload', true);
    assert.equal(res.status, 413);
    await res.text();
  }
});

test('the linger is bounded: a client that never stops sending is closed after the answer', async () => {
  const socket = net.connect(serve.port, '127.0.0.1');
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  socket.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${1024 * MiB}\r\n\r\n`);
  const chunk = Buffer.alloc(16 * 1024, 'x');
  const pump = setInterval(() => {
    if (!closed) socket.write(chunk);
  }, 5);
  try {
    await waitUntil('the answer', () => received.includes('\r\n\r\n'), 5000);
    assert.match(received, /^HTTP\/1\.1 413 /);
    await waitUntil('the connection closed by the gateway', () => closed, 10_000);
  } finally {
    clearInterval(pump);
    socket.destroy();
  }
});
