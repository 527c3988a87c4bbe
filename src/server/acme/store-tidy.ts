import {
  chmodSync,
  existsSync,
  lstatSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../observe/log/logger.ts';
import { type AcmeStore, TEMPORARY } from './acme-store.ts';

/**
 * What `acme.storage` is put right at start, each said in the log: what a write cut by a crash
 * left (a temporary copy of a key, a certificate's half-done save: swept, but only files older
 * than this process, which it cannot be writing, nor can another live writer, whose temporary
 * file lives for one call); then keys found readable by others (restored from a backup, copied
 * in by hand), made owner-only.
 */
export function tidyStore(store: AcmeStore, logger: Logger): void {
  const { removed, finished } = sweepTemporaries(store.root, startOnItsClock(store.root));
  if (removed.length > 0)
    logger.warn({ files: removed }, 'acme.storage held temporary files a crash left: removed');
  if (finished.length > 0)
    logger.warn(
      { folders: finished },
      'acme.storage held a certificate whose save a crash cut between its key and its chain: finished',
    );
  const { tightened, failed } = tighten(store.root);
  if (tightened.length > 0)
    logger.warn(
      { files: tightened },
      'acme.storage held files or folders others could read: made owner-only',
    );
  if (failed.length > 0)
    logger.error(
      { files: failed },
      'acme.storage holds files others may read that could not be made owner-only: chmod them 0600 (folders 0700)',
    );
}

/**
 * Makes owner-only what was found looser (a backup restored 0644, a key copied in by hand,
 * under a umask of 022): every folder 0700, every file 0600, the keys among them. The root
 * being 0700 is not enough: a root opened up later (a chmod -R, a volume mounted anew) would
 * give every key away. What was tightened, and what could not be (another owner's file), is
 * returned for the log. Links are left: what they point to is not the store's.
 */
function tighten(root: string): { tightened: string[]; failed: string[] } {
  const tightened: string[] = [];
  const failed: string[] = [];
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isFile() && !entry.isDirectory()) continue;
    const wanted = entry.isDirectory() ? 0o700 : 0o600;
    try {
      if ((lstatSync(path).mode & 0o777 & ~wanted) === 0) continue;
      chmodSync(path, wanted);
      tightened.push(path);
    } catch (err) {
      failed.push(`${path}: ${(err as Error).message}`);
    }
  }
  return { tightened, failed };
}

/**
 * This process's start on the clock of the file system under `root`, which stamps the files the
 * sweep judges: the time of a file written there now, less the process's uptime. Against
 * Date.now(), a storage whose clock runs behind the gateway's (a share, NFS) had a live writer's
 * file written since the start look older than it, and swept; one ahead left a crash's for the
 * next start. Date.now()'s where nothing can be written there (the sweep then fails as well).
 */
function startOnItsClock(root: string): number {
  const probe = join(root, `.clock.${process.pid}`);
  try {
    writeFileSync(probe, '', { mode: 0o600 });
    // The uptime read after the write: a start judged a little early, never late.
    return statSync(probe).mtimeMs - process.uptime() * 1000;
  } catch {
    return Date.now() - process.uptime() * 1000;
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * Takes away what a write cut short by a crash left (a kill between the write of a temporary
 * file and its rename): the temporary files of AcmeStore's writes, and a certificate's `*.next.pem` pair
 * of saveCertificate. Only files last written before `before` (this process's start: what a
 * live writer holds exists for the milliseconds of one call, written after that). A save cut
 * between its two renames (the new key.pem beside the old chain.pem, which cannot serve
 * together) is finished: chain.next.pem is the new key's chain. What was removed or finished
 * is returned for the log.
 */
function sweepTemporaries(root: string, before: number): { removed: string[]; finished: string[] } {
  const removed: string[] = [];
  const finished: string[] = [];
  const stale = (path: string) => lstatSync(path).mtimeMs < before;
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && TEMPORARY.test(entry.name) && stale(path)) {
      rmSync(path, { force: true });
      removed.push(path);
    }
  }
  for (const entry of readdirSync(join(root, 'certificates'), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, 'certificates', entry.name);
    const [key, chain] = [join(dir, 'key.next.pem'), join(dir, 'chain.next.pem')];
    if (!existsSync(key) && existsSync(chain) && stale(chain)) {
      renameSync(chain, join(dir, 'chain.pem'));
      finished.push(dir);
      continue;
    }
    for (const path of [key, chain])
      if (existsSync(path) && stale(path)) {
        rmSync(path, { force: true });
        removed.push(path);
      }
  }
  return { removed, finished };
}
