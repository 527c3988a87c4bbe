/**
 * candor/client against a server that closes its connection while the app has not read the
 * answer yet: the app must live. Node 24.21's fetch (undici 7.29.1) paused its parser on a body
 * the reader was behind on, and a close that came then (the FIN of a `Connection: close` or
 * HTTP/1.0 answer, or an RST) threw `AssertionError: assert(!this.paused)` from a socket event:
 * the test process died (nodejs/undici#5360; core/net/paused-parser-finish.ts). Real peers:
 * node:net servers writing exact bytes, and Python's http.server (HTTP/1.0). Waits are on the
 * connection's own events, never timed: a body of 64 KiB (fetch's stream buffer, a Readable's
 * highWaterMark) makes undici pause on its last byte; the test waits for the connection's close
 * before it reads a byte.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { hasTool } from '../../helpers/cli-tools.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { connects, freePort } from '../../helpers/wait.ts';

/** fetch's stream buffer: a body of this size pauses undici's parser on its last byte when unread. */
const HELD = 64 * 1024;

/** A body whose bytes say where they are, so a byte lost or moved shows. */
function bodyOf(size: number): Buffer {
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
  return body;
}

/** The next connection undici writes a request head to (its `sendHeaders` channel names it). */
function nextConnection(): Promise<net.Socket> {
  return new Promise((resolve) => {
    const seen = (message: unknown) => {
      unsubscribe('undici:client:sendHeaders', seen);
      resolve((message as { socket: net.Socket }).socket);
    };
    subscribe('undici:client:sendHeaders', seen);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', resolve));
}

/** Resolves once `bytes` of answer bodies came off connections (undici's `bodyChunkReceived`). */
function bodyBytesCame(bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let came = 0;
    const chunk = (message: unknown) => {
      came += (message as { chunk: Buffer }).chunk.byteLength;
      if (came < bytes) return;
      unsubscribe('undici:request:bodyChunkReceived', chunk);
      resolve();
    };
    subscribe('undici:request:bodyChunkReceived', chunk);
  });
}

/** `promise`'s value or rejection, or 'pending' after `ms`: a read that never ends fails the test, not hangs it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | unknown> {
  return Promise.race([promise.catch((error: unknown) => error), sleep(ms, 'pending' as const)]);
}

const FIN_ANSWERS: [string, string, Buffer][] = [
  [
    'HTTP/1.1, Content-Length, Connection: close',
    `HTTP/1.1 200 OK\r\nContent-Length: ${HELD}\r\nConnection: close\r\n\r\n`,
    bodyOf(HELD),
  ],
  ['HTTP/1.0, Content-Length', `HTTP/1.0 200 OK\r\nContent-Length: ${HELD}\r\n\r\n`, bodyOf(HELD)],
  [
    'HTTP/1.1, close-delimited (no Content-Length, not chunked)',
    'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n',
    bodyOf(HELD),
  ],
  ['HTTP/1.0, close-delimited', 'HTTP/1.0 200 OK\r\n\r\n', bodyOf(HELD)],
];

for (const [what, head, body] of FIN_ANSWERS) {
  test(`${what}: the server's FIN before a byte is read leaves the app alive, and the body whole`, async () => {
    const origin = await startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write(head);
      await connection.write(body);
      await connection.end();
    });
    try {
      const connection = nextConnection();
      const res = await createFetch()(`${origin.url}/file`);
      assert.equal(res.status, 200);
      // The FIN is in and the connection closed before the app reads (before the fix the process died here).
      await closed(await connection);
      const got = await within(res.arrayBuffer(), 5_000);
      assert.ok(got instanceof ArrayBuffer, `expected the body, got ${String(got)}`);
      assert.ok(Buffer.from(got).equals(body), 'the body whole, every byte in its place');
    } finally {
      await origin.close();
    }
  });
}

test("a Content-Length not reached, the server's FIN before a byte is read: the app lives, the read rejects with UPSTREAM_BODY_INCOMPLETE", async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(`HTTP/1.1 200 OK\r\nContent-Length: ${2 * HELD}\r\nConnection: close\r\n\r\n`);
    await connection.write(bodyOf(HELD));
    await connection.end();
  });
  try {
    const connection = nextConnection();
    const res = await createFetch()(`${origin.url}/file`);
    await closed(await connection);
    const error = await within(res.arrayBuffer(), 5_000);
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    assert.equal(error.type, 'http_response_incomplete');
    assert.match(
      error.message,
      /the upstream closed the connection before the body's end \(65536 of 131072 bytes\)/,
    );
  } finally {
    await origin.close();
  }
});

for (const [what, length, detail] of [
  [
    'a Content-Length not reached',
    `Content-Length: ${16 * HELD}\r\n`,
    /connection reset \(ECONNRESET\) before the body's end \(65536 of 1048576 bytes\)/,
  ],
  [
    'a close-delimited body',
    '',
    /connection reset \(ECONNRESET\) where only the connection's close ends the body \(no Content-Length, not chunked\): it may be cut anywhere, after [\d.]+ ms, after 65536 bytes of the body/,
  ],
] as const) {
  test(`${what} with Connection: close, the server's RST while the body is held unread: the app lives, the read rejects with UPSTREAM_BODY_INCOMPLETE`, async () => {
    let go = () => {};
    const reset = new Promise<void>((resolve) => {
      go = resolve;
    });
    const origin = await startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write(`HTTP/1.1 200 OK\r\n${length}Connection: close\r\n\r\n`);
      await connection.write(bodyOf(HELD));
      await reset;
      await connection.reset(0);
    });
    try {
      const connection = nextConnection();
      const held = bodyBytesCame(HELD);
      const res = await createFetch()(`${origin.url}/file`);
      // Every byte sent is in fetch's stream, the parser paused on the last: then the RST.
      await held;
      go();
      await closed(await connection);
      const error = await within(res.arrayBuffer(), 5_000);
      assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
      assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
      assert.equal(error.type, 'http_response_incomplete');
      assert.match(error.message, detail);
    } finally {
      await origin.close();
    }
  });
}

test('a gzip body that inflates a thousandfold, with Connection: close, closed right after its last byte: the app lives, the body whole', async () => {
  // 256 MiB of zeros in some 250 KiB of gzip: fetch's decoder, not the app, is behind, and holds
  // the parser paused when the FIN comes (content-coding.test.ts has it kept alive).
  const bomb = gzipSync(Buffer.alloc(256 << 20));
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end(
      Buffer.concat([
        Buffer.from(
          `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${bomb.length}\r\nconnection: close\r\n\r\n`,
        ),
        bomb,
      ]),
    );
  });
  try {
    const res = await createFetch()(`${origin.url}/download`);
    let decoded = 0;
    for await (const chunk of res.body ?? []) decoded += chunk.byteLength;
    assert.equal(decoded, 256 << 20);
  } finally {
    await origin.close();
  }
});

test('a kept-alive answer read late is read whole, and the next call after it too', async () => {
  const body = bodyOf(HELD);
  const origin = await startRawFault(async (connection) => {
    for (let i = 0; i < 2; i++) {
      await readRequest(connection);
      await connection.write(`HTTP/1.1 200 OK\r\nContent-Length: ${HELD}\r\n\r\n`);
      await connection.write(body);
    }
  });
  try {
    const api = createFetch();
    const held = bodyBytesCame(HELD);
    const first = await api(`${origin.url}/one`);
    await held;
    assert.ok(Buffer.from(await first.arrayBuffer()).equals(body));
    const second = await api(`${origin.url}/two`);
    assert.ok(Buffer.from(await second.arrayBuffer()).equals(body));
  } finally {
    await origin.close();
  }
});

const noPython = hasTool('python3') ? false : 'no python3 (its http.server is the HTTP/1.0 peer)';

describe("Python's http.server (HTTP/1.0, Content-Length, the connection closed after each answer)", {
  skip: noPython,
}, () => {
  const dir = tempDir('candor-close-unread-');
  const small = bodyOf(HELD);
  const large = bodyOf(3_000_000);
  let port = 0;
  let child: ChildProcess | undefined;

  before(async () => {
    writeFileSync(join(dir, 'small.bin'), small);
    writeFileSync(join(dir, 'large.bin'), large);
    port = await freePort();
    child = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 200; i++) {
      if (await connects(port)) return;
      await sleep(25);
    }
    throw new Error('python3 -m http.server did not listen');
  });

  after(async () => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  });

  test('a file of 64 KiB, its FIN in before a byte is read: the app lives, the file whole', async () => {
    const connection = nextConnection();
    const res = await createFetch()(`http://127.0.0.1:${port}/small.bin`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(HELD));
    await closed(await connection);
    const got = await within(res.arrayBuffer(), 5_000);
    assert.ok(got instanceof ArrayBuffer, `expected the body, got ${String(got)}`);
    assert.ok(Buffer.from(got).equals(small));
  });

  test('a file of 3 MB read by a slow reader (2 ms a chunk), three times: the app lives, each whole', async () => {
    const api = createFetch();
    for (let round = 0; round < 3; round++) {
      const res = await api(`http://127.0.0.1:${port}/large.bin`);
      const chunks: Buffer[] = [];
      for await (const chunk of res.body as ReadableStream<Uint8Array>) {
        chunks.push(Buffer.from(chunk));
        // The reader's pace, not a wait for anything: it keeps fetch's stream full, the parser paused.
        await sleep(2);
      }
      assert.ok(Buffer.concat(chunks).equals(large), `round ${round + 1}: the file whole`);
    }
  });
});
