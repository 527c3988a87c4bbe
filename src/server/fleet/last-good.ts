/**
 * A fleet gateway's state folder: the config it runs now (`config.yaml`, the document and its
 * bootstrap's local section, the file its reloads read) and the last good document with its
 * revision and hash (`last-good.yaml`, `last-good.json`), which it starts on when etcd cannot be
 * reached. Each file is written whole to a temporary name and renamed over the old one, so a
 * crash mid-write leaves the previous file, never half of one.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile } from '../../core/state-file.ts';

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

/** The record kept in `last-good.json`: the LastGood without its document, and the document's own hash. */
interface LastGoodRecord extends Omit<LastGood, 'document'> {
  /** `sha256:HEX` of `last-good.yaml`'s bytes: a file edited or damaged since is not started on. */
  readonly document_hash: string;
}

/** `sha256:HEX` of a document's text. */
function documentHash(document: string): string {
  // node:crypto when a hash is first worked out, not at import: this module is the cluster
  // primary's, which otherwise loads none of it (config-hash.ts).
  const { createHash } = process.getBuiltinModule('node:crypto');
  return `sha256:${createHash('sha256').update(document).digest('hex')}`;
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

/**
 * writeRunning for a revision to apply: the file, or why the state folder cannot take it (full,
 * read-only) as a problem of no line, for the refusal that revision is (fleet-source.ts).
 */
export function writtenOrWhy(
  state: string,
  text: string,
): string | { line: 0; column: 0; path: ''; message: string } {
  try {
    return writeRunning(state, text);
  } catch (err) {
    const message = `the state folder cannot take it (${runningFile(state)}, which its reload reads): ${(err as Error).message}; pushed again once there is room, it is applied`;
    return { line: 0, column: 0, path: '', message };
  }
}

export function keepLastGood(state: string, good: LastGood): void {
  mkdirSync(state, { recursive: true, mode: 0o700 });
  writeWhole(join(state, 'last-good.yaml'), good.document);
  const { document, ...meta } = good;
  const record: LastGoodRecord = { ...meta, document_hash: documentHash(document) };
  writeWhole(join(state, 'last-good.json'), `${JSON.stringify(record, null, 2)}\n`);
}

/** Keeps `good` as the last good config; undefined when kept, else the line that says it was not. */
export function keptOrWhy(state: string, good: LastGood): string | undefined {
  try {
    keepLastGood(state, good);
    return undefined;
  } catch (err) {
    return `the last good config could not be kept: ${(err as Error).message}; revision ${good.revision} runs, but a start while etcd cannot be read does not start on it`;
  }
}

/** The last good document's file, named in what a start that cannot use it says. */
export function lastGoodFile(state: string): string {
  return join(state, 'last-good.yaml');
}

/** The largest last good file read: a fleet's document is far less (etcd keeps a value under 1.5 MiB by default). */
const MAX_KEPT = 64 * 1024 * 1024;

/**
 * The last good document; undefined when there is none (a first start); or why the one there
 * cannot be used: a record that does not parse, or a document whose bytes are not those the
 * record kept the hash of (edited by hand, emptied, damaged), which is never started on under
 * the revision its record names.
 */
export function readLastGood(state: string): LastGood | { readonly unusable: string } | undefined {
  const yamlFile = lastGoodFile(state);
  const jsonFile = join(state, 'last-good.json');
  if (!existsSync(yamlFile) && !existsSync(jsonFile)) return undefined;
  let record: Partial<LastGoodRecord>;
  let document: string;
  try {
    // Without waiting, bounded: a FIFO in their place held the start for good (state-file.ts).
    record = JSON.parse(readStateFile(jsonFile, MAX_KEPT)) as Partial<LastGoodRecord>;
    document = readStateFile(yamlFile, MAX_KEPT);
  } catch (err) {
    return { unusable: (err as Error).message };
  }
  const { revision, hash, document_hash: kept } = record;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 1)
    return { unusable: `${jsonFile} holds no revision` };
  if (typeof hash !== 'string' || typeof kept !== 'string')
    return { unusable: `${jsonFile} holds no hash of the document` };
  const found = documentHash(document);
  if (found !== kept)
    return {
      unusable: `${yamlFile} is not the document its record kept (its hash is ${found}, ${jsonFile} says ${kept}): edited or damaged since`,
    };
  return {
    revision,
    hash,
    at: String(record.at),
    ...(record.author === undefined ? {} : { author: record.author }),
    document,
  };
}

function writeWhole(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, text, { mode: 0o600 });
    renameSync(temporary, file);
  } catch (err) {
    // A disk that filled mid-write: the half written is not left to hold what space there is.
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Not removable either (the folder read-only): the error said is the write's.
    }
    throw err;
  }
}
