import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './temp-dir.ts';

/**
 * Real faulty disks for a test, never a mocked fs: a small tmpfs that fills, a read-only bind
 * mount. Root is needed (CI runs as root); elsewhere the test is skipped, saying why. Whatever
 * the test does, its mounts go when it ends (t.after), before the folder is removed.
 */

/** A folder on a tmpfs of `size` (`256k`); undefined when mounting is not permitted (the test is skipped). */
export function smallDisk(t: TestContext, size: string): string | undefined {
  const dir = tempDir('candor-disk-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(`mount is not permitted here (root needed for a real tmpfs): ${String(err).split('\n')[0]}`);
    return undefined;
  }
  t.after(() => unmount(dir));
  return dir;
}

/** Makes the mounted `dir` read-only (a bind mount of itself remounted ro), until the test ends or writable() */
export function readOnly(t: TestContext, dir: string): void {
  execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
  execFileSync('mount', ['-o', 'remount,ro,bind', dir], { stdio: 'pipe' });
  t.after(() => writable(dir));
}

/** Undoes readOnly (the bind mount goes; the disk under it was writable all along). */
export function writable(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {}
}

/** Fills the disk under `dir` to its last byte (a file `filler` takes what is left). */
export function fillUp(dir: string): void {
  const filler = join(dir, 'filler');
  // Chunk by chunk until the disk says no: tmpfs counts pages, so the free bytes are not exact.
  const chunk = Buffer.alloc(4096, 'f');
  for (;;)
    try {
      writeFileSync(filler, chunk, { flag: 'a' });
    } catch {
      break;
    }
  // The last bytes of a page: one at a time.
  for (;;)
    try {
      writeFileSync(filler, 'f', { flag: 'a' });
    } catch {
      return;
    }
}

/** Frees the space fillUp took. */
export function freeUp(dir: string): void {
  rmSync(join(dir, 'filler'), { force: true });
}

function unmount(dir: string): void {
  // A read-only bind first, then the tmpfs itself; lazily, should a file still be open.
  for (let i = 0; i < 3; i++)
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    } catch {
      break;
    }
  rmSync(dir, { recursive: true, force: true });
}
