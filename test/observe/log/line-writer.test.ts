/** The log's writer: every line, in order, in few writes; a bounded backlog that says what it dropped. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FILE_BATCH_MS, LineWriter } from '../../../src/observe/log/line-writer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

function tempFile(): string {
  return path.join(tempDir('candor-log-'), 'sub', 'access.log');
}

/**
 * Runs `use` with both ends of a fresh FIFO (its read end non-blocking), closed and removed after.
 * Read-write opens do not wait for the other end of a FIFO.
 */
async function withFifo(use: (readFd: number, writeFd: number) => unknown): Promise<void> {
  const dir = tempDir('candor-log-');
  const fifo = path.join(dir, 'log.fifo');
  execFileSync('mkfifo', [fifo]);
  const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writeFd = fs.openSync(fifo, 'r+');
  try {
    await use(readFd, writeFd);
  } finally {
    fs.closeSync(readFd);
    fs.closeSync(writeFd);
    fs.rmSync(dir, { recursive: true });
  }
}

const flushed = (writer: LineWriter) => new Promise<void>((resolve) => writer.flush(() => resolve()));

test('every line reaches the file, in order, and flush waits for the last one', async () => {
  const file = tempFile();
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' });
  for (let i = 0; i < 5000; i++) assert.equal(writer.write(`{"n":${i}}\n`), true);
  await flushed(writer);
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 5000);
  for (const [i, line] of lines.entries()) assert.equal(JSON.parse(line).n, i);
});

test('beyond the backlog lines are dropped, counted, and the count is written once it catches up', async () => {
  const file = tempFile();
  const line = `${'x'.repeat(98)}\n`;
  // Room for 10 lines until the end of the turn writes them.
  const writer = LineWriter.open(file, 1000, { name: 'edge-1' });
  const accepted = Array.from({ length: 30 }, () => writer.write(line)).filter(Boolean).length;
  await flushed(writer);
  writer.write(line);
  await flushed(writer);
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  const notice = lines.map((l) => (l.startsWith('{') ? JSON.parse(l) : undefined)).find(Boolean);
  assert.ok(accepted < 30, 'some lines were dropped');
  assert.equal(notice.level, 'warn');
  assert.equal(notice.gateway, 'edge-1');
  assert.equal(notice.dropped_lines, 30 - accepted);
  assert.equal(lines.filter((l) => l === line.trimEnd()).length, accepted + 1);
});

test('flushSync writes what is queued (the last lines before exit)', () => {
  const file = tempFile();
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' });
  writer.write('first\n');
  writer.write('second\n');
  writer.flushSync();
  assert.equal(fs.readFileSync(file, 'utf8'), 'first\nsecond\n');
});

test('a file gets the lines of one event-loop turn in one write, by the end of that turn', async () => {
  const file = tempFile();
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' });
  writer.write('a\n');
  writer.write('b\n');
  assert.equal(fs.readFileSync(file, 'utf8'), '', 'nothing is written in the middle of the turn');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(fs.readFileSync(file, 'utf8'), 'a\nb\n');
});

test('a turn soon after a write leaves its lines to the next write: a turn each is not a write each', async () => {
  const file = tempFile();
  // A batch time no loaded machine can pass between two turns: the deferral is certain.
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' }, 60_000);
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  writer.write('a\n');
  await turn();
  assert.equal(fs.readFileSync(file, 'utf8'), 'a\n', 'the first turn is written at its end');
  writer.write('b\n');
  await turn();
  writer.write('c\n');
  await turn();
  assert.equal(fs.readFileSync(file, 'utf8'), 'a\n', 'the next turns wait for the batch');
  await flushed(writer);
  assert.equal(fs.readFileSync(file, 'utf8'), 'a\nb\nc\n');
});

test('a file sent to the asynchronous path by a slow write is batched there too: a turn each is not a write each', async () => {
  const file = tempFile();
  // Every write counts as slow (the first sends the file to the thread pool for 30 s), and a
  // batch time no loaded machine can pass: the deferral is certain.
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' }, 60_000, -1);
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  writer.write('a\n');
  await turn();
  assert.equal(fs.readFileSync(file, 'utf8'), 'a\n', 'the first turn is written at its end, and was slow');
  writer.write('b\n');
  await turn();
  writer.write('c\n');
  await turn();
  // A write through the thread pool is done in well under this; none must have been made.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(
    fs.readFileSync(file, 'utf8'),
    'a\n',
    'the next turns wait for the batch (a write each was a round trip each)',
  );
  await flushed(writer);
  assert.equal(fs.readFileSync(file, 'utf8'), 'a\nb\nc\n', 'a flush writes them at once');
  writer.write('d\n');
  await flushed(writer);
  assert.equal(fs.readFileSync(file, 'utf8'), 'a\nb\nc\nd\n');
});

test('every line reaches the file as its UTF-8, through batches that outgrow their storage, written directly and through the thread pool', async () => {
  // Each line some 1 KiB of 1-, 2-, 3- and 4-byte characters (and a lone surrogate, written as
  // U+FFFD as Buffer.from writes it); 3,000 of them in one turn: past the storage a batch keeps.
  const line = (i: number) => `{"n":${i},"s":"${'aé€😀'.repeat(100)}\ud800"}\n`;
  for (const slowWriteMs of [20_000, -1]) {
    const file = tempFile();
    // -1: every write counts as slow, and the file goes to the thread pool after the first.
    const writer = LineWriter.open(file, 1 << 24, { name: 'edge-1' }, 0, slowWriteMs);
    let expected = '';
    for (let turn = 0; turn < 3; turn++) {
      for (let i = 0; i < 1000 * (turn + 1); i++) {
        assert.equal(writer.write(line(i)), true);
        expected += line(i);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await flushed(writer);
    assert.ok(fs.readFileSync(file).equals(Buffer.from(expected)), `slowWriteMs ${slowWriteMs}`);
  }
});

test('lines left to the batch are written by its timer, with no turn or flush to carry them', async () => {
  const file = tempFile();
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' });
  writer.write('a\n');
  await new Promise((resolve) => setImmediate(resolve));
  writer.write('b\n');
  // Bounded, not timed: FILE_BATCH_MS (5 ms) is the wait; 2 s is the test's patience.
  const deadline = performance.now() + 2000;
  while (fs.readFileSync(file, 'utf8') !== 'a\nb\n') {
    assert.ok(
      performance.now() < deadline,
      `the batch was not written within 2 s (FILE_BATCH_MS ${FILE_BATCH_MS})`,
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});

test('a pipe is written through the asynchronous path, every line in order', () =>
  withFifo(async (readFd, writeFd) => {
    const writer = new LineWriter(writeFd, 1 << 20, { name: 'edge-1' });
    // Under 4 KiB: the smallest pipe buffer Linux gives, so nothing waits for a reader.
    for (let i = 0; i < 300; i++) writer.write(`{"n":${i}}\n`);
    await flushed(writer);
    const buffer = Buffer.alloc(1 << 16);
    const text = buffer.subarray(0, fs.readSync(readFd, buffer)).toString();
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 300);
    for (const [i, line] of lines.entries()) assert.equal(JSON.parse(line).n, i);
  }));

test('lines that come while a write waits on a full pipe go after its bytes, which they leave as they are', () =>
  withFifo(async (readFd, writeFd) => {
    const writer = new LineWriter(writeFd, 1 << 24, { name: 'edge-1' });
    const line = (i: number) => `{"n":${i},"s":"${'x'.repeat(1000)}"}\n`;
    // 300 KiB: past what the pipe holds (64 KiB on Linux), so the write waits for the reader.
    for (let i = 0; i < 300; i++) writer.write(line(i));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Meanwhile the write in flight still holds its batch's bytes: these must go elsewhere.
    for (let i = 300; i < 600; i++) writer.write(line(i));
    const expected = Array.from({ length: 600 }, (_, i) => line(i)).join('');
    const chunks: Buffer[] = [];
    let read = 0;
    const buffer = Buffer.alloc(1 << 16);
    // Bounded: 1,000 empty reads 5 ms apart in a row end it.
    for (let idle = 0; read < expected.length && idle < 1000; ) {
      let n = 0;
      try {
        n = fs.readSync(readFd, buffer);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (n > 0) {
        chunks.push(Buffer.from(buffer.subarray(0, n)));
        read += n;
        idle = 0;
      } else {
        idle++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    assert.equal(Buffer.concat(chunks).toString(), expected);
  }));

test("a flush awaited at a process's end over a stdout pipe nobody reads ends in the stall's error, not in an exit with the await unsettled", () =>
  // The reader is there and never reads: the pipe fills, and the writes wait on EAGAIN.
  withFifo((_readFd, writeFd) => {
    const writerModule = path.join(import.meta.dirname, '../../../src/observe/log/line-writer.ts');
    // The cluster primary's last step: its log flushed, awaited, with nothing else keeping the loop.
    const script = `import { LineWriter } from ${JSON.stringify(writerModule)};
const writer = new LineWriter(1, 1 << 22, { name: 'edge-1' });
for (let i = 0; i < 256; i++) writer.write('x'.repeat(1023) + '\\n');
const err = await new Promise((resolve) => writer.flush(resolve));
process.stderr.write(String(err?.message));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', writeFd, 'pipe'],
      timeout: 30_000,
    });
    // Exit 13 was Node's "unsettled top-level await": the stall's timer did not hold the loop.
    assert.equal(child.status, 0);
    assert.equal(child.stderr.toString(), 'the log destination took no lines for 2000 ms');
  }));

test('reopen() after a mv rotation: lines queued before it stay in the old file, later ones start a fresh file', async () => {
  const file = tempFile();
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' });
  writer.write('{"n":1}\n');
  await flushed(writer);
  fs.renameSync(file, `${file}.1`);
  writer.write('{"n":2}\n');
  assert.deepEqual(writer.reopen(), { file });
  writer.write('{"n":3}\n');
  await flushed(writer);
  assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), '{"n":1}\n{"n":2}\n');
  assert.equal(fs.readFileSync(file, 'utf8'), '{"n":3}\n');
});

test('reopen() of a named pipe whose reader is gone returns at once with the error, keeping the old descriptor', () => {
  // SIGUSR1 (logrotate's postrotate) while the log shipper reading the pipe is down: open(2) for
  // writing waited for a reader, the gateway's whole loop with it, until one came back.
  const dir = tempDir('candor-reopen-fifo-');
  const fifo = path.join(dir, 'access.log');
  execFileSync('mkfifo', [fifo]);
  const writerModule = path.join(import.meta.dirname, '../../../src/observe/log/line-writer.ts');
  const script = `import fs from 'node:fs';
import { LineWriter } from ${JSON.stringify(writerModule)};
const reader = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
const writer = LineWriter.open(${JSON.stringify(fifo)}, 1 << 20, { name: 'edge-1' });
fs.closeSync(reader);
const result = writer.reopen();
process.stdout.write(JSON.stringify({ file: result?.file, error: result?.error?.code }));`;
  try {
    // Bounded: a reopen that waits for a reader never returns here.
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    assert.equal(child.signal, null, 'reopen() waited for a reader');
    assert.equal(child.stderr.toString(), '');
    assert.deepEqual(JSON.parse(child.stdout.toString()), { file: fifo, error: 'ENXIO' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('reopen() does nothing for stdout, and keeps writing to the old file when the path cannot be opened', () => {
  assert.equal(new LineWriter(1, 1 << 20, { name: 'edge-1' }).reopen(), undefined);
  const file = tempFile();
  const writer = LineWriter.open(file, 1 << 20, { name: 'edge-1' });
  fs.renameSync(file, `${file}.1`);
  // A directory where the file was: open(2) fails with EISDIR.
  fs.mkdirSync(file);
  const result = writer.reopen();
  assert.ok(result !== undefined && 'error' in result, 'the error is reported');
  writer.write('{"n":1}\n');
  writer.flushSync();
  assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), '{"n":1}\n');
});
