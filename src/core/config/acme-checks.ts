/**
 * What automatic HTTPS needs of the rest of the config: every TLS listener has a certificate
 * to serve (a configured pair, or names to order), a certificate goes with its key, the
 * ACME server's root is readable and holds a certificate, and `acme.storage` is a folder the
 * gateway can write (or make). Run with the file checks, when the config is loaded.
 */

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULTS } from './defaults.ts';
import { caProblem, unreadableReason } from './file-checks.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import { readErrorReason } from './read-error.ts';
import type { Report } from './report.ts';

export function checkAcme(document: unknown, baseDir: string, report: Report): void {
  if (!isMapping(document)) return;
  for (const [index, listener] of itemsOf(document.listen)) {
    const tls = mappingAt(listener, 'tls');
    if (tls === undefined) continue;
    const path = ['listen', index, 'tls'] as const;
    const hasCert = tls.cert !== undefined;
    const hasKey = tls.key !== undefined;
    if (hasCert && !hasKey)
      report([...path, 'cert'], 'a certificate needs its private key: add tls.key', 'key');
    else if (hasKey && !hasCert)
      report([...path, 'key'], 'a private key needs its certificate: add tls.cert', 'key');
    else if (!hasCert && tls.acme === undefined)
      report(
        [...path, 'cert'],
        'a TLS listener needs a certificate to serve: add cert and key, or acme.names for the gateway to order',
        'parent',
      );
  }
  const acme = mappingAt(document, 'acme');
  checkStorage(document, baseDir, report);
  const ca = stringAt(acme, 'ca');
  if (ca !== undefined && ca !== '') {
    const file = resolve(baseDir, ca);
    // A regular file only: /dev/zero would be read without end.
    const unreadable = unreadableReason(file);
    const problem = unreadable === undefined ? caProblem(readFileSync(file, 'latin1')) : undefined;
    if (unreadable !== undefined)
      report(['acme', 'ca'], `cannot read ${JSON.stringify(file)}: ${unreadable}`);
    else if (problem !== undefined) report(['acme', 'ca'], `${JSON.stringify(file)} ${problem}`);
  }
}

/**
 * `acme.storage` (written, or its default) must be a folder the gateway can write, or make: found
 * only at start, it was a stack trace (ENOTDIR, EACCES, EROFS) after `candor check` said ok, and
 * every worker's. Checked where automatic HTTPS runs at all (an `acme` section, or a listener
 * that orders names: normalize.ts), without making anything. The problem points at the field,
 * or, for the default, at `acme` or the first listener that orders.
 */
function checkStorage(document: Record<string, unknown>, baseDir: string, report: Report): void {
  const acme = mappingAt(document, 'acme');
  const ordering = itemsOf(document.listen).find(([, l]) => mappingAt(l, 'tls')?.acme !== undefined);
  if (acme === undefined && ordering === undefined) return;
  const written = stringAt(acme, 'storage');
  const folder = resolve(baseDir, written ?? DEFAULTS.acme.storage());
  const problem = folderProblem(folder);
  if (problem === undefined) return;
  const what = `${written === undefined ? 'its default, ' : ''}${JSON.stringify(folder)} ${problem}: automatic HTTPS keeps its account key and certificates there`;
  if (written !== undefined) return report(['acme', 'storage'], what);
  const fix = `${what}; set acme.storage to a folder the gateway can write`;
  if (acme !== undefined) return report(['acme', 'storage'], fix, 'parent');
  report(['listen', ordering?.[0] ?? 0, 'tls', 'acme'], `acme.storage: ${fix}`, 'key');
}

/**
 * Why the gateway could not keep files in `folder`, or undefined: a folder that cannot be
 * written, or a path that is not one (a file where it or a parent folder should be), or whose
 * nearest existing parent cannot be written to make it.
 */
export function folderProblem(folder: string): string | undefined {
  let path = folder;
  for (;;) {
    let found: ReturnType<typeof statSync>;
    try {
      found = statSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Not there (or a file above it, ENOTDIR): what counts is the nearest part that is.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(path) !== path) {
        path = dirname(path);
        continue;
      }
      return `cannot be used: ${readErrorReason(error)}`;
    }
    const made = path === folder ? '' : ` (it would be made in ${JSON.stringify(path)})`;
    if (!found.isDirectory())
      return path === folder ? 'is not a folder' : `cannot be made: ${JSON.stringify(path)} is not a folder`;
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (error) {
      return `cannot be written${made}: ${readErrorReason(error)}`;
    }
  }
}
