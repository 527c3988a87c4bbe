/**
 * Several processes writing their lines into one pipe (the workers and the primary of `candor
 * serve --workers N` into a stdout that is a pipe to a log shipper, or a named pipe as the log
 * file) or one Unix socket (journald's stdout): every line arrives whole. A pipe keeps a write
 * whole only up to PIPE_BUF (4 KiB) bytes, a Unix stream socket up to 32 KiB; a larger
 * non-blocking write with less room goes in part, and another process's write lands before its
 * rest: two lines cut into each other, both lost to whatever parses them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { tempDir } from '../../helpers/temp-dir.ts';

const WRITERS = 3;
const LINES = 300;
const writerModule = new URL('../../../src/observe/log/line-writer.ts', import.meta.url).href;

/** A line's padding: lengths from 100 to ~3,000 bytes, so that batches cross PIPE_BUF anywhere. */
const padding = (writer: number, i: number) => ((i * 37 + writer * 101) % 2900) + 100;

/**
 * A process that queues LINES lines at once into a LineWriter on `fd` (1: its stdout, or a
 * named pipe's path), says so on its IPC channel, and, told to (`go`: the test reads now),
 * exits once they are written. Its flush waits for that word: a flush that waits on a pipe
 * nobody reads gives up after STALL_MS by design, and on a loaded machine the three start
 * further apart than that; the process then exited with its lines unwritten, before the test
 * listened for its exit (a hang).
 */
function startWriter(
  id: number,
  destination: { stdout: number | net.Socket } | { fifo: string },
): ChildProcess {
  const open =
    'stdout' in destination
      ? `new LineWriter(1, 1 << 24, { name: 'w' })`
      : `LineWriter.open(${JSON.stringify(destination.fifo)}, 1 << 24, { name: 'w' })`;
  const script = `
    import { LineWriter } from ${JSON.stringify(writerModule)};
    const writer = ${open};
    for (let i = 0; i < ${LINES}; i++) {
      const pad = ((i * 37 + ${id} * 101) % 2900) + 100;
      writer.write(JSON.stringify({ w: ${id}, i, pad: 'x'.repeat(pad) }) + '\\n');
    }
    process.send('queued');
    process.once('message', () =>
      writer.flush((err) => { if (err) process.exitCode = 3; process.disconnect(); }),
    );
  `;
  const stdout = 'stdout' in destination ? destination.stdout : 'ignore';
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', stdout, 'inherit', 'ipc'],
  });
}

/** Every line the writers wrote, whole and in each writer's order, and nothing else. */
function assertWhole(text: string): void {
  assert.ok(text.endsWith('\n'), 'the last line ends');
  const lines = text.slice(0, -1).split('\n');
  const next = new Array<number>(WRITERS).fill(0);
  for (const line of lines) {
    let record: { w: number; i: number; pad: string };
    try {
      record = JSON.parse(line);
    } catch {
      assert.fail(`a line cut by another: ${line.slice(0, 80)}…(${line.length} bytes)`);
    }
    assert.equal(record.i, next[record.w], `writer ${record.w}'s lines in order`);
    assert.equal(record.pad.length, padding(record.w, record.i));
    next[record.w]++;
  }
  assert.deepEqual(next, new Array<number>(WRITERS).fill(LINES));
}

/**
 * Starts the writers on a fresh FIFO, reads nothing until every one has queued its lines (the
 * pipe fills and each waits), then reads it in small pieces until they have all exited.
 */
async function writeThroughFifo(destination: 'stdout' | 'fifo'): Promise<string> {
  const dir = tempDir('candor-shared-pipe-');
  const fifo = path.join(dir, 'log.fifo');
  execFileSync('mkfifo', [fifo]);
  const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  // Read-write: opening it does not wait for a reader, and the pipe never sees its last writer go.
  const writeFd = fs.openSync(fifo, 'r+');
  const children: ChildProcess[] = [];
  try {
    for (let id = 0; id < WRITERS; id++) {
      children.push(startWriter(id, destination === 'stdout' ? { stdout: writeFd } : { fifo }));
    }
    const exited = Promise.all(children.map((child) => once(child, 'exit')));
    await Promise.all(children.map((child) => once(child, 'message')));
    for (const child of children) child.send('go');
    let done = false;
    void exited.then(() => {
      done = true;
    });
    const chunks: Buffer[] = [];
    const piece = Buffer.alloc(1500);
    for (;;) {
      try {
        const n = fs.readSync(readFd, piece);
        chunks.push(Buffer.from(piece.subarray(0, n)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        if (done) break;
        await nextTurn();
      }
    }
    for (const [code] of await exited) assert.equal(code, 0);
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    for (const child of children) child.kill('SIGKILL');
    fs.closeSync(readFd);
    fs.closeSync(writeFd);
    fs.rmSync(dir, { recursive: true });
  }
}

test('processes sharing a stdout pipe: every line arrives whole, none cut by another', async () => {
  assertWhole(await writeThroughFifo('stdout'));
});

test('processes sharing a named pipe as their log file: every line arrives whole', async () => {
  assertWhole(await writeThroughFifo('fifo'));
});

test("processes sharing a Unix socket as stdout (journald's): every line arrives whole", async () => {
  const dir = tempDir('candor-shared-socket-');
  const server = net.createServer();
  server.listen(path.join(dir, 'log.sock'));
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const writeEnd = net.connect(path.join(dir, 'log.sock'));
  await once(writeEnd, 'connect');
  const [readEnd] = (await accepted) as [net.Socket];
  // Nothing is read until every writer has queued its lines: the socket fills and each waits.
  readEnd.pause();
  const children: ChildProcess[] = [];
  try {
    for (let id = 0; id < WRITERS; id++) children.push(startWriter(id, { stdout: writeEnd }));
    const exited = Promise.all(children.map((child) => once(child, 'exit')));
    await Promise.all(children.map((child) => once(child, 'message')));
    const chunks: Buffer[] = [];
    readEnd.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(readEnd, 'end');
    readEnd.resume();
    for (const child of children) child.send('go');
    for (const [code] of await exited) assert.equal(code, 0);
    // The writers are gone: this end is the socket's last writer.
    writeEnd.end();
    await ended;
    assertWhole(Buffer.concat(chunks).toString('utf8'));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    writeEnd.destroy();
    readEnd.destroy();
    server.close();
    fs.rmSync(dir, { recursive: true });
  }
});
