/**
 * The process out of file descriptors, for real: its open-file limit (RLIMIT_NOFILE) lowered with
 * prlimit to the descriptors it holds, so that the gateway's next upstream connect fails with
 * EMFILE; and a GET on a kept-alive connection, which needs no new descriptor.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import http from 'node:http';

/** This process's open-file limit, as prlimit takes it ("soft:hard"). */
function nofile(): string {
  const out = execFileSync('prlimit', [
    '--pid',
    String(process.pid),
    '--nofile',
    '--raw',
    '--noheadings',
    '--output=SOFT,HARD',
  ]);
  return out.toString().trim().split(/\s+/).join(':');
}

/**
 * Lowers the open-file limit to the descriptors this process holds and takes every free one below
 * it: the next socket() fails with EMFILE. `release` gives them back and restores the limit. A
 * reserve is taken first, below the lowered limit, so that prlimit itself can be started again
 * however compact the descriptor table was: a synchronous spawn opens a dozen descriptors of its
 * own (a loop, its wakeup, the child's three pipes, the exec error pipe), and with eight in reserve
 * and no hole below the highest descriptor, the restoring spawn failed with EMFILE on CI.
 */
export function exhaustDescriptors(): () => void {
  const before = nofile();
  const reserve = Array.from({ length: 64 }, () => openSync('/dev/null', 'r'));
  const highest = Math.max(...readdirSync('/proc/self/fd').map(Number));
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${highest + 1}:${before.split(':')[1]}`]);
  const held: number[] = [];
  for (;;) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'EMFILE');
      break;
    }
  }
  return () => {
    for (const fd of [...reserve, ...held]) closeSync(fd);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before}`]);
  };
}

/** A GET on `agent`'s connection (kept alive, so that the second needs no new descriptor). */
export function get(
  url: string,
  path: string,
  agent: http.Agent,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(new URL(path, url), { agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
      })
      .on('error', reject);
  });
}
