/**
 * Writing the fleet's config: a document validated here first (as `candor check` would, with
 * this bootstrap's local section), then written only if the key is still at the revision the
 * author read (a compare-and-swap in one transaction with the push's record); the history of the
 * key from etcd's own revisions, and a rollback that pushes an old revision's document again.
 */
import { join } from 'node:path';
import type { Bootstrap } from '../../core/config/bootstrap-file.ts';
import { composeConfig, documentLabel, placeProblem } from '../../core/config/composed-config.ts';
import { ConfigError, type ConfigProblem } from '../../core/config/config-error.ts';
import { parseConfig } from '../../core/config/load.ts';
import { type NamedSecret, type SecretPresence, secretsOf } from '../../core/config/secrets.ts';
import type { Undecodable } from '../../core/config/utf8.ts';
import {
  type Compare,
  type EtcdClient,
  EtcdError,
  type KeyValue,
} from '../../upstream/config-source/etcd-client.ts';
import {
  type Canary,
  COMPACTED_AWAY,
  canaryKey,
  canaryOf,
  NO_PUSH_RECORD,
  type PushRecord,
  pushKey,
  readJson,
  UNREAD_PUSH,
} from './fleet-keys.ts';

export type PushResult =
  | { readonly pushed: number; readonly from: number }
  | { readonly problems: readonly ConfigProblem[] }
  /** The key moved since the author's read: who wrote it, and when. */
  | {
      readonly conflict: {
        readonly expected: number;
        readonly now: number;
        readonly author: string;
        readonly at: string;
      };
    }
  /** A config canary is under way: nothing else is pushed until it is judged (canary-push.ts). */
  | { readonly canaryRunning: Canary };

/**
 * Validates `document` against this bootstrap's local section, as `candor check` validates a
 * file (secrets that live on the gateways, such as the admin token's variable, may be absent here).
 */
export function validateDocument(
  document: string,
  bootstrap: Bootstrap,
  label: string,
  /** Where the file's (or revision's) bytes stop being UTF-8: refused there, as `candor check` refuses it. */
  undecodable?: Undecodable,
  secrets: SecretPresence = 'may-be-absent',
): ConfigProblem[] {
  const composed = composeConfig(document, bootstrap, label, undecodable);
  if ('problems' in composed) return composed.problems;
  // Read as if it were the state folder's file: a relative path in it is taken from there, as on a gateway.
  const file = join(bootstrap.state, 'config.yaml');
  try {
    parseConfig(composed.text, file, process.env, { secrets });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => placeProblem(p, file, bootstrap, label, composed));
  }
}

/** A document that composes with any `local`: it names nothing `local` could be checked against. */
const PLACEHOLDER =
  'routes:\n  - match: { path: / }\n    upstream: u\nupstreams:\n  u:\n    targets:\n      - url: http://127.0.0.1:1\n';
/**
 * Fields of `local` whose check reads the document too (`client_certificates_from: forwarded`
 * its `trust_forwarded_from`, `tls.acme` its `acme` section): left to the composed config.
 */
const READS_THE_DOCUMENT = /^listen\[\d+\]\.(client_certificates_from|tls\.acme)\b/;

/**
 * The problems of the bootstrap's `local` section on its own (`candor check BOOTSTRAP`, and
 * `serve` before etcd is asked): composed with a placeholder document, what is told at the
 * bootstrap file's lines, but for a field whose check depends on the document.
 */
export function localProblems(bootstrap: Bootstrap, secrets: SecretPresence): ConfigProblem[] {
  return validateDocument(PLACEHOLDER, bootstrap, '(placeholder)', undefined, secrets).filter(
    (problem) => problem.file === bootstrap.file && !READS_THE_DOCUMENT.test(problem.path),
  );
}

/**
 * The secrets the bootstrap's `local` section names (an admin token, a listener's key), each
 * field as the bootstrap file writes it (`local.admin.token_env`): `candor check --without-secrets
 * BOOTSTRAP`'s "serve will need" list. None when the section cannot be read on its own.
 */
export function localSecrets(bootstrap: Bootstrap): NamedSecret[] {
  const composed = composeConfig(PLACEHOLDER, bootstrap, '(placeholder)');
  if ('problems' in composed) return [];
  try {
    const config = parseConfig(composed.text, join(bootstrap.state, 'config.yaml'), process.env, {
      secrets: 'may-be-absent',
    });
    return secretsOf(config).map(({ source, field }) => ({ source, field: `local.${field}` }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [];
  }
}

/**
 * Pushes `document` if the key is at `expected` (the revision the author read; by default the
 * one read now, before validating). `rollbackOf` marks a rollback in the record.
 */
export async function pushDocument(
  client: EtcdClient,
  bootstrap: Bootstrap,
  document: string,
  author: string,
  options: { expected?: number; rollbackOf?: number; label?: string; undecodable?: Undecodable } = {},
): Promise<PushResult> {
  const { key } = bootstrap.etcd;
  const expected = options.expected ?? (await client.range(key)).kvs[0]?.modRevision ?? 0;
  const canary = await client.range(canaryKey(key));
  const running = canaryOf(canary.kvs[0]);
  if (running?.phase === 'running') return { canaryRunning: running };
  // A problem is told in the file pushed (or, for a rollback, the revision it takes up again).
  const problems = validateDocument(
    document,
    bootstrap,
    options.label ?? documentLabel(key, expected + 1),
    options.undecodable,
  );
  if (problems.length > 0) return { problems };
  const record: PushRecord = {
    author,
    at: new Date().toISOString(),
    from: expected,
    ...(options.rollbackOf === undefined ? {} : { rollback_of: options.rollbackOf }),
  };
  // An empty key has no mod revision to compare: its version is 0 until the first write.
  const compare =
    expected === 0
      ? ({ key, target: 'version', equals: 0 } as const)
      : ({ key, target: 'mod', equals: expected } as const);
  const written = await client.putIf(
    [compare, unchangedCanary(key, canary.kvs[0]?.modRevision)],
    [
      { key, value: document },
      { key: pushKey(key), value: JSON.stringify(record) },
    ],
    [key, pushKey(key), canaryKey(key)],
  );
  if (written.succeeded) return { pushed: written.revision, from: expected };
  return refusedBy(key, expected, written.read);
}

/**
 * Why a push's compare-and-swap failed, from what it read instead (the key, its push record and
 * the canary's): a canary began, or the key moved (who wrote it, and when).
 */
export function refusedBy(
  key: string,
  expected: number,
  read: readonly KeyValue[],
): Extract<PushResult, { conflict: unknown } | { canaryRunning: unknown }> {
  const began = canaryOf(read.find((kv) => kv.key === canaryKey(key)));
  if (began?.phase === 'running') return { canaryRunning: began };
  const now = read.find((kv) => kv.key === key);
  const push = read.find((kv) => kv.key === pushKey(key));
  const by = readJson<PushRecord>(push?.value ?? '');
  const same = by !== undefined && push?.modRevision === now?.modRevision;
  return {
    conflict: {
      expected,
      now: now?.modRevision ?? 0,
      author: same ? by.author : 'unknown (written without candor config push)',
      at: same ? by.at : 'unknown',
    },
  };
}

/** The compare that holds while no canary began since `modRevision` was read (undefined: there was none). */
export function unchangedCanary(key: string, modRevision: number | undefined): Compare {
  return modRevision === undefined
    ? { key: canaryKey(key), target: 'version', equals: 0 }
    : { key: canaryKey(key), target: 'mod', equals: modRevision };
}

/** One revision of the document: when it changed, by whom, and its size. */
export interface HistoryEntry {
  readonly revision: number;
  readonly author: string;
  readonly at: string;
  readonly rollbackOf?: number;
  readonly bytes: number;
}

/**
 * The key's revisions, newest first, as far back as etcd keeps them (a compaction removes the
 * older ones) and at most `limit`.
 */
export async function configHistory(
  client: EtcdClient,
  key: string,
  limit = 20,
): Promise<{ entries: HistoryEntry[]; compactedBefore?: number }> {
  const entries: HistoryEntry[] = [];
  let at: number | undefined;
  while (entries.length < limit) {
    let read: Awaited<ReturnType<EtcdClient['range']>>;
    try {
      read = await client.range(key, at === undefined ? {} : { revision: at });
    } catch (err) {
      if (err instanceof EtcdError && err.kind === 'compacted') return { entries, compactedBefore: at };
      throw err;
    }
    const kv = read.kvs[0];
    if (kv === undefined) break;
    const record = await pushRecordAt(client, key, kv.modRevision);
    const own = typeof record !== 'string';
    entries.push({
      revision: kv.modRevision,
      author: pushAuthor(record),
      at: own ? record.at : 'unknown',
      ...(own && record.rollback_of !== undefined ? { rollbackOf: record.rollback_of } : {}),
      bytes: Buffer.byteLength(kv.value),
    });
    if (kv.version <= 1) break;
    at = kv.modRevision - 1;
  }
  return { entries };
}

/**
 * The push record written with `revision`, or why there is none to tell: `none`, a document
 * written by hand (`etcdctl put`: no record written with it); `compacted`, etcd no longer holds
 * the revision and a later push's record replaced the one it may have had; `unread`, etcd did
 * not answer. Past a compaction the record's latest version still tells: written at `revision`
 * (in the push's own transaction), it is that revision's; written before it, the revision had none.
 */
export async function pushRecordAt(
  client: EtcdClient,
  key: string,
  revision: number,
): Promise<PushRecord | 'none' | 'compacted' | 'unread'> {
  let push: KeyValue | undefined;
  try {
    push = (await client.range(pushKey(key), { revision })).kvs[0];
  } catch (err) {
    if (!(err instanceof EtcdError && err.kind === 'compacted')) return 'unread';
    try {
      push = (await client.range(pushKey(key))).kvs[0];
    } catch {
      return 'unread';
    }
    if (push !== undefined && push.modRevision > revision) return 'compacted';
  }
  const record = readJson<PushRecord>(push?.value ?? '');
  return record !== undefined && push?.modRevision === revision ? record : 'none';
}

/** Who pushed a revision, as the timeline, /status and the history say it, from pushRecordAt's answer. */
export function pushAuthor(found: Awaited<ReturnType<typeof pushRecordAt>>): string {
  if (typeof found !== 'string') return found.author;
  return found === 'none' ? NO_PUSH_RECORD : found === 'compacted' ? COMPACTED_AWAY : UNREAD_PUSH;
}

/** The document as it was written at `revision` (that revision must be one that wrote it). */
export async function documentAt(
  client: EtcdClient,
  key: string,
  revision: number,
): Promise<{ document: string; undecodable?: Undecodable } | { problem: string }> {
  try {
    const kv = (await client.range(key, { revision })).kvs[0];
    if (kv === undefined) return { problem: `${key} held nothing at revision ${revision}` };
    if (kv.modRevision !== revision)
      return {
        problem: `revision ${revision} did not write ${key}: the document then was revision ${kv.modRevision}'s (see candor config history)`,
      };
    return { document: kv.value, ...(kv.undecodable === undefined ? {} : { undecodable: kv.undecodable }) };
  } catch (err) {
    if (err instanceof EtcdError && err.kind === 'compacted')
      return { problem: `revision ${revision} is compacted away: etcd no longer holds it` };
    // A revision past etcd's own was told in etcd's bare words, exit 69 (etcd unreachable).
    if (err instanceof EtcdError && /future revision/.test(err.message)) {
      const now = (await client.range(key)).revision;
      return {
        problem: `${key} never had revision ${revision}: etcd is at revision ${now} (see candor config history)`,
      };
    }
    throw err;
  }
}

/** Who is pushing, when not said: the user and host, as git would guess. */
export function defaultAuthor(): string {
  const os = process.getBuiltinModule('node:os');
  let user = 'someone';
  try {
    user = os.userInfo().username;
  } catch {
    // No user name for this uid (a container's): the host alone says something.
  }
  return `${user}@${os.hostname()}`;
}
