/**
 * The two lines the log writer writes itself (the "lines were dropped" notice in the log, and
 * the one line on stderr when the destination refuses writes) carry the gateway's name as a
 * reload renamed it, as the logger's own lines do. They carried the name the gateway started
 * with: the writer was given the name, not the box a reload renames.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const dir = tempDir('candor-log-renamed-');
const src = path.resolve(import.meta.dirname, '../../../src');

/**
 * A process whose logger (`make`: the worker's or the primary's) writes to `fifo`, renamed
 * from edge-1 to edge-2 before its first line, and logs one line per line read on stdin.
 */
function loggingProcess(fifo: string, make: 'createLogger' | 'createPrimaryLogger') {
  const module = make === 'createLogger' ? 'observe/log/logger.ts' : 'server/cluster/primary-log.ts';
  const script = `
    const { ${make} } = await import(${JSON.stringify(path.join(src, module))});
    const { renameGateway } = await import(${JSON.stringify(path.join(src, 'observe/log/gateway-name.ts'))});
    const logger = ${make}({ destination: ${JSON.stringify(fifo)}, level: 'info' }, 'edge-1');
    renameGateway(logger, 'edge-2');
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (n) => logger.info({ n: Number(n) }, 'line'));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    stderr += c;
  });
  return { child, stderr: () => stderr };
}

/** Everything readable from a non-blocking `fd` now, appended to `into`. */
function readNow(fd: number, into: { text: string }): void {
  const buffer = Buffer.alloc(1 << 16);
  try {
    for (let n = fs.readSync(fd, buffer); n > 0; n = fs.readSync(fd, buffer))
      into.text += buffer.subarray(0, n).toString();
  } catch {
    // EAGAIN: nothing more yet.
  }
}

for (const make of ['createLogger', 'createPrimaryLogger'] as const) {
  test(`${make}: renamed, the writer's own lines (refused on stderr, lines dropped) carry the new name`, async () => {
    const fifo = path.join(dir, `${make}.fifo`);
    execFileSync('mkfifo', [fifo]);
    let reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const logging = loggingProcess(fifo, make);
    try {
      const read = { text: '' };
      logging.child.stdin.write('1\n');
      await waitUntil('the first line', () => {
        readNow(reader, read);
        return read.text.includes('"n":1');
      });
      assert.equal(JSON.parse(read.text).gateway, 'edge-2', 'the logger line: the new name');

      // The reader leaves: the next line is refused (EPIPE), said once on stderr.
      fs.closeSync(reader);
      logging.child.stdin.write('2\n');
      await waitUntil('the notice on stderr', () => logging.stderr().includes('refuses writes'));
      const refused = JSON.parse(
        logging
          .stderr()
          .split('\n')
          .find((l) => l.includes('refuses writes')) ?? '',
      );
      assert.equal(refused.err, 'EPIPE');
      assert.equal(refused.gateway, 'edge-2', 'the stderr line: the new name');

      // A reader again: the next batch ends with the count of the line lost.
      reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      read.text = '';
      logging.child.stdin.write('3\n');
      await waitUntil(
        'the dropped-lines notice',
        () => {
          readNow(reader, read);
          return read.text.includes('dropped_lines');
        },
        10_000,
      );
      const lines = read.text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      const notice = lines.find((l) => l.dropped_lines !== undefined);
      assert.equal(notice.dropped_lines, 1);
      assert.equal(notice.gateway, 'edge-2', 'the dropped-lines notice: the new name');
    } finally {
      logging.child.kill('SIGKILL');
      // (Closed already when an assertion failed while the reader was away.)
      fs.close(reader, () => {});
    }
  });
}
