/**
 * The directory spool files are made in, this process's user's own before a file goes there.
 * The default (`candor-spool/` in the system's temporary folder) is a name any user of the
 * machine may take first: one made by another user with mode 0777, or a link to a place of
 * theirs, was used as found, so they could see each spool file's name and size come and go,
 * replace or fill the folder, or have it point where the gateway's user may write. As
 * `acme.storage` is checked, a folder is used only when it is one (not a symbolic link, not a
 * file), its user's, and no one else may write in it. It is never loosened or tightened here (a
 * `spool_dir` may name a folder the system needs as it is, /var/tmp). In place of one that
 * fails, the default makes a fresh private folder (mkdtemp, 0700) in the temporary folder; a
 * `limits.spool_dir` the operator named is refused (the response waits in memory, as when the
 * folder cannot be written, and `spool write failed` says why).
 */
import { rmSync } from 'node:fs';
import { lstat, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `dir` made (if missing, 0700) and checked: returns it; or, when it cannot be used and is the
 * shared default (`shared`), a fresh private folder beside it. Throws (naming the folder and
 * why) for a named one that cannot be used.
 */
export async function privateSpoolDir(dir: string, shared: boolean): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const problem = await notPrivateFolder(dir);
  if (problem === undefined) return dir;
  if (!shared)
    throw new Error(`the spool directory ${JSON.stringify(dir)} ${problem}: no spool file is made there`);
  // The shared folder's name was taken first by someone else: a folder of this process's own,
  // removed when it exits, or each start (each worker, each restart) left one more behind. Its
  // spool files are unlinked as soon as they are open: it holds none by then but a crash's.
  const own = await mkdtemp(join(tmpdir(), 'candor-spool-own-'));
  process.once('exit', () => rmSync(own, { recursive: true, force: true }));
  return own;
}

/** Why `dir` is no folder of this process's user alone to write in, or undefined. */
async function notPrivateFolder(dir: string): Promise<string | undefined> {
  const found = await lstat(dir);
  if (found.isSymbolicLink()) return 'is a symbolic link';
  if (!found.isDirectory()) return 'is not a directory';
  const uid = process.getuid?.();
  if (uid !== undefined && found.uid !== uid) return `belongs to another user (uid ${found.uid}, not ${uid})`;
  const mode = (found.mode & 0o777).toString(8).padStart(3, '0');
  if ((found.mode & 0o022) !== 0) return `may be written by others than its user (mode ${mode})`;
  return undefined;
}
