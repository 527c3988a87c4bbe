/**
 * What automatic HTTPS needs of the rest of the config: every TLS listener has a certificate
 * to serve (a configured pair, or names to order), a certificate goes with its key, and the
 * ACME server's root is readable and holds a certificate. Run with the file checks, when the config is loaded.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { caProblem, unreadableReason } from './file-checks.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
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
