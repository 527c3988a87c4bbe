/**
 * `limits.http2.connection_buffer`: what one HTTP/2 connection may have held for it in the
 * gateway, summed over its streams. Each stream alone may hold its route's `limits.buffer`
 * (1 MiB), as an HTTP/1.1 connection may; without a budget over them together, a client that
 * opens 100 streams and reads nothing holds 100 of them. A real gateway in this process, a
 * real upstream that answers only as fast as it is read (in a process of its own for the memory
 * test), and raw frames from a client whose stream windows are shut; what the gateway holds is
 * read off the process's ArrayBuffer memory once it stops moving.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http, { type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { settledArrayBuffers } from '../../../helpers/settled-memory.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { FRAME, headerBlock, headers, RawH2Client, requestFields, SETTING } from './h2-frames.ts';

const MiB = 1024 * 1024;
const STREAMS = 16;

/** An upstream answering GET with `size` bytes, produced only as fast as the gateway reads them. */
async function lazyUpstream(size: number): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((_req, res) => {
    let left = size;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    new Readable({
      read() {
        const n = Math.min(64 * 1024, left);
        left -= n;
        this.push(n === 0 ? null : Buffer.alloc(n, 'x'));
      },
    }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * The same upstream in a process of its own, for the memory test: what this process holds is
 * then the gateway's alone. With the upstream in this process too, its own pipe and socket
 * buffers were counted, and how much of them was in hand depended on how the two sides' turns
 * fell, which the machine's load decides (5.7 MB against a 4.25 MB bound under the whole suite).
 */
async function lazyUpstreamProcess(size: number): Promise<{ port: number; stop(): Promise<void> }> {
  const source = `
    import http from 'node:http';
    import { Readable } from 'node:stream';
    const server = http.createServer((_req, res) => {
      let left = ${size};
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '${size}' });
      new Readable({
        read() {
          const n = Math.min(64 * 1024, left);
          left -= n;
          this.push(n === 0 ? null : Buffer.alloc(n, 'x'));
        },
      }).pipe(res);
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
    process.stdin.on('end', () => process.exit(0)).resume();`;
  // stdin is the child's lifeline: when this process ends, however it ends, so does the upstream.
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return {
    port: Number(line.toString().trim()),
    stop: async () => {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}

/** A gateway with an HTTP/2 listener in front of the upstream on `port`, with this budget. */
function h2Gateway(port: number, connectionBuffer: string) {
  return startTestGateway(
    `routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${port}" }]
    pool: { max_connections: 64 }
limits:
  http2: { connection_buffer: ${connectionBuffer} }
`,
    {},
    'http2: true',
  );
}

/**
 * What the gateway comes to hold for a client that opens STREAMS streams of 4 MiB answers with
 * its stream windows shut, above what it held before.
 */
async function heldForStalledClient(connectionBuffer: string): Promise<number> {
  const upstream = await lazyUpstreamProcess(4 * MiB);
  const stopUpstream = () => upstream.stop();
  const gw = await h2Gateway(upstream.port, connectionBuffer).catch(async (err) => {
    await stopUpstream();
    throw err;
  });
  // Everything loaded and warm before the baseline.
  const warm = http2.connect(gw.url);
  await new Promise<void>((resolve) => {
    const stream = warm.request({ ':path': '/warm' });
    stream.resume();
    stream.on('close', () => resolve());
  });
  warm.close();
  const before = await settledArrayBuffers();
  const raw = await RawH2Client.connect(gw.port, [[SETTING.INITIAL_WINDOW_SIZE, 0]]);
  try {
    for (let i = 0; i < STREAMS; i++) raw.send(headers(1 + 2 * i, headerBlock(requestFields(`/big/${i}`))));
    // Every answer's head reached the client: every stream is an exchange holding what it can.
    await raw.waitFor(() => raw.frames.filter((f) => f.type === FRAME.HEADERS).length >= STREAMS);
    return (await settledArrayBuffers()) - before;
  } finally {
    raw.close();
    await gw.close();
    await stopUpstream();
  }
}

test('a client that reads nothing holds the connection budget, not a buffer per stream', async (t) => {
  const bounded = await heldForStalledClient('256KiB');
  const unbounded = await heldForStalledClient('64MiB');
  t.diagnostic(
    `${STREAMS} stalled streams of 4 MiB: held ${(bounded / MiB).toFixed(2)} MiB with connection_buffer 256KiB, ${(unbounded / MiB).toFixed(2)} MiB with 64MiB`,
  );
  // Each stream may hold its route's limits.buffer (1 MiB) alone: 16 MiB together without the budget.
  assert.ok(unbounded > 12 * MiB, `without a budget each stream holds its buffer (${unbounded} bytes)`);
  // With it: the budget, and what each stream had in hand when the budget was reached: the
  // last read from its upstream (64 KiB) and its upstream socket's read-ahead (64 KiB), with as
  // much again for how the turns fell (the upstream runs in a process of its own).
  assert.ok(bounded < 256 * 1024 + STREAMS * 256 * 1024, `held ${bounded} bytes`);
});

test('request bodies read whole count against the budget too: past it, a body streams as a longer one does', async () => {
  const BODY = 200 * 1024;
  const seen: { framing: string; bytes: number }[] = [];
  // The upstream answers only once every request has reached it: the bodies read whole are
  // all held at once.
  const waiting: ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      seen.push({ framing: req.headers['content-length'] !== undefined ? 'length' : 'chunked', bytes });
      waiting.push(res);
      if (waiting.length === 8) for (const r of waiting) r.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstream = { server, port: (server.address() as AddressInfo).port };
  const run = async (connectionBuffer: string) => {
    seen.length = 0;
    waiting.length = 0;
    const gw = await h2Gateway(upstream.port, connectionBuffer);
    const client = http2.connect(gw.url);
    try {
      const statuses = await Promise.all(
        Array.from(
          { length: 8 },
          (_, i) =>
            new Promise<number>((resolve) => {
              // No content-length: a body read whole goes upstream with one, a streamed one chunked.
              const stream = client.request({ ':method': 'POST', ':path': `/upload/${i}` });
              let status = 0;
              stream.on('response', (h) => {
                status = Number(h[':status']);
              });
              stream.resume();
              stream.on('close', () => resolve(status));
              stream.end(Buffer.alloc(BODY, 'b'));
            }),
        ),
      );
      return { statuses, framings: seen.map((s) => s.framing).sort(), bytes: seen.map((s) => s.bytes) };
    } finally {
      client.close();
      await gw.close();
    }
  };
  try {
    const unbounded = await run('64MiB');
    assert.deepEqual(unbounded.statuses, Array(8).fill(200));
    assert.deepEqual(unbounded.framings, Array(8).fill('length'), 'every body read whole');
    const bounded = await run('256KiB');
    assert.deepEqual(bounded.statuses, Array(8).fill(200));
    assert.deepEqual(bounded.bytes, Array(8).fill(BODY), 'every body reached the upstream whole');
    // 256 KiB holds one body of 200 KiB at a time, and none is let go before all eight are in.
    assert.ok(bounded.framings.filter((f) => f === 'length').length <= 1, JSON.stringify(bounded.framings));
  } finally {
    upstream.server.closeAllConnections();
    await new Promise((resolve) => upstream.server.close(resolve));
  }
});

test('a client that reads, fast or in fits and starts, gets every answer whole through a small budget (streams paused on it resume as it reads)', async () => {
  const upstream = await lazyUpstream(2 * MiB);
  const gw = await h2Gateway(upstream.port, '64KiB');
  const client = http2.connect(gw.url);
  try {
    const sizes = await Promise.all(
      Array.from(
        { length: STREAMS },
        (_, i) =>
          new Promise<number>((resolve, reject) => {
            const stream = client.request({ ':path': `/big/${i}` });
            let bytes = 0;
            stream.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              // Every other stream reads in fits and starts: its window shuts and opens again.
              if (i % 2 === 1) {
                stream.pause();
                setTimeout(() => stream.resume(), 1);
              }
            });
            stream.on('end', () => resolve(bytes));
            stream.on('error', reject);
          }),
      ),
    );
    assert.deepEqual(sizes, Array(STREAMS).fill(2 * MiB));
  } finally {
    client.close();
    await gw.close();
    upstream.server.closeAllConnections();
    await new Promise((resolve) => upstream.server.close(resolve));
  }
});
