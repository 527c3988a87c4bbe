import type { Logger } from '../../observe/log/logger.ts';
import type { AcmeStore } from './acme-store.ts';

/**
 * What `acme.storage` is put right at start, each said in the log: what a write cut by a crash
 * left (a temporary copy of a key, a certificate's half-done save: swept, but only files older
 * than this process, which it cannot be writing, nor can another live writer, whose temporary
 * file lives for one call); then keys found readable by others (restored from a backup, copied
 * in by hand), made owner-only.
 */
export function tidyStore(store: AcmeStore, logger: Logger): void {
  const { removed, finished } = store.sweepTemporaries(Date.now() - process.uptime() * 1000);
  if (removed.length > 0)
    logger.warn({ files: removed }, 'acme.storage held temporary files a crash left: removed');
  if (finished.length > 0)
    logger.warn(
      { folders: finished },
      'acme.storage held a certificate whose save a crash cut between its key and its chain: finished',
    );
  const { tightened, failed } = store.tighten();
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
