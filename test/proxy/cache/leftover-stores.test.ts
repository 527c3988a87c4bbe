/**
 * The workers' cache folders primaries killed before they could remove their own left are
 * removed by the next primary's start (removeLeftoverStores), and only those whose owner is
 * certainly not running: recorded in this process's namespaces, its pid not running, or running
 * since another time (the pid given again). A live owner's folder, one recorded in another pid
 * namespace, one of a Candor that wrote no owner, a link, and another user's are left. Real
 * processes and /proc, in a folder of the test's own (the gateway's /dev/shm is shared with every
 * test that starts one).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ownedPrefix, ownerOf } from '../../../src/proxy/cache/store-owner.ts';
import { removeLeftoverStores } from '../../../src/proxy/cache/workers-store.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

/** A process's start time, the 22nd field of /proc/PID/stat (counted after the command's last `)`). */
function startOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

const inode = (kind: string) => /\[(\d+)\]/.exec(readlinkSync(`/proc/self/ns/${kind}`))?.[1] ?? '0';

/** A folder named as a primary of this pid and start time makes it, with a stored file in it. */
function folder(parent: string, pid: number, start: string, suffix: string, pidNs = inode('pid')): string {
  const dir = join(parent, `candor-cache-${pid}-${start}-${pidNs}-${inode('time')}-${suffix}`);
  mkdirSync(join(dir, 'pages'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'pages', 'a'.repeat(64)), 'a stored answer');
  return dir;
}

/** A process that ran and is gone (its exit collected): its pid and start time. */
async function deadProcess(): Promise<{ pid: number; start: string }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  const pid = child.pid as number;
  const start = startOf(pid);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return { pid, start };
}

test("a primary's folder names its owner: its pid, start time and namespaces", () => {
  const prefix = ownedPrefix();
  assert.equal(
    prefix,
    `candor-cache-${process.pid}-${startOf(process.pid)}-${inode('pid')}-${inode('time')}-`,
  );
  assert.deepEqual(ownerOf(`${prefix}AbC123`), {
    pid: process.pid,
    start: startOf(process.pid),
    pidNs: inode('pid'),
    timeNs: inode('time'),
  });
  assert.equal(ownerOf('candor-cache-AbC123'), undefined, 'a folder of a Candor that wrote no owner');
  assert.equal(ownerOf('candor-cache-status-AbC123'), undefined);
});

test("only the folders of owners certainly gone are removed: a dead pid's, a pid given again's; never a live one's", async (t) => {
  const parent = tempDir('candor-leftover-');
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const dead = await deadProcess();
  const gone = folder(parent, dead.pid, dead.start, 'Killed');
  // This process's pid, but a start time it does not have: the pid the kernel gave again.
  const reused = folder(parent, process.pid, '1', 'Reused');
  const live = folder(parent, process.pid, startOf(process.pid), 'Living');
  // The dead owner's pid read in another pid namespace: this one cannot say whose it is.
  const elsewhere = folder(parent, dead.pid, dead.start, 'Elsewh', '1');
  const ownerless = join(parent, 'candor-cache-NoOwnr');
  mkdirSync(ownerless);
  const link = join(parent, `candor-cache-${dead.pid}-${dead.start}-${inode('pid')}-${inode('time')}-Linked`);
  const target = join(parent, 'target');
  mkdirSync(target);
  symlinkSync(target, link);

  const removed = removeLeftoverStores(parent);

  assert.deepEqual(
    removed.sort((a, b) => a.dir.localeCompare(b.dir)),
    [
      { dir: gone, pid: dead.pid },
      { dir: reused, pid: process.pid },
    ].sort((a, b) => a.dir.localeCompare(b.dir)),
  );
  assert.equal(existsSync(gone), false);
  assert.equal(existsSync(reused), false);
  for (const kept of [live, elsewhere, ownerless, link, target]) assert.ok(existsSync(kept), kept);
  assert.deepEqual(removeLeftoverStores(parent), [], 'nothing left to remove the second time');
});

test("another user's folder is left, its owner gone or not", {
  skip: process.getuid?.() !== 0 ? 'changing owners needs root (CI runs as root)' : false,
}, async (t) => {
  const parent = tempDir('candor-leftover-');
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const dead = await deadProcess();
  const theirs = folder(parent, dead.pid, dead.start, 'Theirs');
  chownSync(theirs, 65534, 65534);
  assert.deepEqual(removeLeftoverStores(parent), []);
  assert.ok(existsSync(join(theirs, 'pages')));
});
