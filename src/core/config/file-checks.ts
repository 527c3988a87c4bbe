/**
 * Certificate, key and CA files must be readable when the config is loaded: finding out at
 * the first TLS handshake turns a typo into an outage, and a config that `candor check`
 * passed must start.
 */

import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { entriesOf, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import { readErrorReason } from './read-error.ts';
import type { Report } from './report.ts';
import type { PathSegment } from './schema.ts';

export function checkFiles(document: unknown, baseDir: string, report: Report): void {
  const root = document !== null && typeof document === 'object' ? (document as Record<string, unknown>) : {};
  for (const [index, listener] of itemsOf(root.listen)) {
    const tls = mappingAt(listener, 'tls');
    for (const field of ['cert', 'key'])
      checkFile(tls, field, ['listen', index, 'tls', field], baseDir, report);
    for (const [n, pair] of itemsOf(tls?.certificates))
      for (const field of ['cert', 'key'])
        checkFile(pair, field, ['listen', index, 'tls', 'certificates', n, field], baseDir, report);
  }
  for (const [name, upstream] of entriesOf(root.upstreams)) {
    for (const field of ['ca', 'cert', 'key'])
      checkFile(mappingAt(upstream, 'tls'), field, ['upstreams', name, 'tls', field], baseDir, report);
  }
}

function checkFile(
  parent: Record<string, unknown> | undefined,
  field: string,
  path: PathSegment[],
  baseDir: string,
  report: Report,
): void {
  const written = stringAt(parent, field);
  if (written === undefined || written === '') return;
  const problem = unreadableReason(resolve(baseDir, written));
  if (problem !== undefined)
    report(path, `cannot read ${JSON.stringify(resolve(baseDir, written))}: ${problem}`);
}

function unreadableReason(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return 'not a file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (error) {
    return readErrorReason(error);
  }
}
