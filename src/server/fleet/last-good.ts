/**
 * A fleet gateway's state folder: the config it runs now (`config.yaml`, the document and its
 * bootstrap's local section, the file its reloads read) and the last good document with its
 * revision and hash (`last-good.yaml`, `last-good.json`), which it starts on when etcd cannot be
 * reached. Each file is written whole to a temporary name and renamed over the old one, so a
 * crash mid-write leaves the previous file, never half of one.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the gateway last ran and confirmed: the document under the key at `revision`. */
export interface LastGood {
  readonly document: string;
  readonly revision: number;
  /** The loaded config's hash (config-hash.ts), as /status shows it. */
  readonly hash: string;
  /** When it was applied (ISO). */
  readonly at: string;
  /** Who pushed it, as the push recorded (`candor config push --author`, or the user and host). */
  readonly author?: string;
}

/** The file the gateway's loader and reloads read: the composed config. */
export function runningFile(state: string): string {
  return join(state, 'config.yaml');
}

/** Writes the composed config the next load reads. */
export function writeRunning(state: string, text: string): string {
  mkdirSync(state, { recursive: true, mode: 0o700 });
  const file = runningFile(state);
  writeWhole(file, text);
  return file;
}

export function keepLastGood(state: string, good: LastGood): void {
  mkdirSync(state, { recursive: true, mode: 0o700 });
  writeWhole(join(state, 'last-good.yaml'), good.document);
  const { document: _document, ...meta } = good;
  writeWhole(join(state, 'last-good.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

/** The last good document, or undefined when there is none (a first start) or it cannot be read. */
export function readLastGood(state: string): LastGood | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(state, 'last-good.json'), 'utf8')) as Omit<
      LastGood,
      'document'
    >;
    const document = readFileSync(join(state, 'last-good.yaml'), 'utf8');
    if (typeof meta.revision !== 'number' || typeof meta.hash !== 'string') return undefined;
    return { ...meta, document };
  } catch {
    return undefined;
  }
}

function writeWhole(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, file);
}
