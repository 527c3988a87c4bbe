/**
 * What a fleet gateway starts on: the document under the key, read now; or, when etcd cannot be
 * reached (or the revision there is refused), the last good document kept in the state folder,
 * saying so. Composed with the bootstrap's local section and written where the loader (and every
 * later reload) reads it.
 */
import type { Bootstrap } from '../../core/config/bootstrap-file.ts';
import {
  type ComposedLayout,
  composeConfig,
  documentLabel,
  placeProblem,
} from '../../core/config/composed-config.ts';
import { ConfigError, type ConfigProblem } from '../../core/config/config-error.ts';
import { EtcdClient, EtcdError } from '../../upstream/config-source/etcd-client.ts';
import { NO_PUSH_RECORD, type PushRecord, pushKey, readJson } from './fleet-keys.ts';
import { lastGoodFile, readLastGood, writeRunning } from './last-good.ts';

/** What the gateway started on: read here, followed from by fleet-source.ts. */
export interface FleetStart {
  readonly bootstrap: Bootstrap;
  readonly client: EtcdClient;
  /** The document and revision the gateway runs, and its author when known. */
  readonly document: string;
  readonly revision: number;
  readonly author?: string;
  /** The first revision not yet seen: watched from here (undefined: etcd not read, the key read first). */
  readonly watchFrom?: number;
  /** The key's modRevision (0: none) in the read `watchFrom` came from: what its first watch's read must find unless etcd was rebuilt since. */
  readonly keyAt?: number;
  /** Set when the gateway started on its last good config because etcd could not be reached. */
  readonly unreachableSince?: string;
  /** Set when it started on its last good config because etcd refused it (a wrong password): since when, and etcd's words. */
  readonly denied?: Denied;
  /** Set when the revision under the key at start was refused (the gateway started on its last good one). */
  readonly refused?: RevisionRefused;
  /** Set when the key held nothing at start (etcd wiped, the key deleted): the gateway started on its last good one. */
  readonly keyEmpty?: true;
}

/** etcd answering and refusing this gateway (a wrong password, a user without the key): since when, and etcd's words. */
export interface Denied {
  readonly since: string;
  readonly why: string;
}

/** A revision refused: which, when, and why (its problems, each at its file, line and field). */
export interface RevisionRefused {
  readonly revision: number;
  readonly at: string;
  readonly problems: readonly ConfigProblem[];
}

/** The client a bootstrap file names. */
export function etcdClientOf(bootstrap: Bootstrap, timeoutMs?: number): EtcdClient {
  const { endpoints, tls, username, password } = bootstrap.etcd;
  return new EtcdClient({
    endpoints,
    tls,
    username,
    password,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

/** A start: the composed file to load, and what the source tells of it; or why there is none. */
export type Prepared =
  | {
      readonly file: string;
      readonly start: FleetStart;
      /** Where the document and local are in the composed file (a problem told where it was written). */
      readonly layout: ComposedLayout;
      readonly notes: readonly string[];
      /** On the last good config: why etcd's was not taken ("etcd cannot be reached (…)"). */
      readonly because?: string;
    }
  /** `config`: etcd's revision, refused, is what stops the start (a config error, not an outage). */
  | { readonly problem: string; readonly config?: true };

/** Reads the source (or the last good config) and writes the composed file to load. */
export async function prepareFleetStart(bootstrap: Bootstrap): Promise<Prepared> {
  const client = etcdClientOf(bootstrap, 3_000);
  const { key } = bootstrap.etcd;
  let read: { revision: number; document: string | undefined; author?: string } | undefined;
  let unreachable: string | undefined;
  /** etcd's refusal of this gateway (a wrong password), when that, not its absence, kept it from the key. */
  let deniedBy: string | undefined;
  try {
    const [doc, push] = await Promise.all([client.range(key), client.range(pushKey(key))]);
    const kv = doc.kvs[0];
    const record = readJson<PushRecord>(push.kvs[0]?.value ?? '');
    // A revision written without `candor config push` has no record of its own: said as
    // #apply says it of one taken while running, not left unknown.
    const pushed = record !== undefined && push.kvs[0]?.modRevision === kv?.modRevision;
    read = {
      revision: kv?.modRevision ?? 0,
      document: kv?.value,
      author: pushed ? record.author : NO_PUSH_RECORD,
    };
    if (kv === undefined) {
      const empty = `etcd holds no config at ${key}`;
      // Emptied (etcd wiped, the key deleted) under a fleet that ran: a gateway with a last good
      // config starts on it, as the running ones serve on theirs; the first push is applied.
      if (readLastGood(bootstrap.state) !== undefined)
        return onLastGood(bootstrap, client, doc.revision + 1, { empty });
      return { problem: `${empty}: push one first (candor config push FILE --config ${bootstrap.file})` };
    }
    const composed = composeConfig(kv.value, bootstrap, documentLabel(key, kv.modRevision), kv.undecodable);
    if ('text' in composed) {
      const file = writeRunning(bootstrap.state, composed.text);
      const start: FleetStart = {
        bootstrap,
        client,
        document: kv.value,
        revision: kv.modRevision,
        watchFrom: doc.revision + 1,
        keyAt: kv.modRevision,
        ...(read.author === undefined ? {} : { author: read.author }),
      };
      return { file, start, layout: layoutOf(composed), notes: [] };
    }
    return onLastGood(bootstrap, client, read.revision + 1, {
      refused: { revision: kv.modRevision, problems: composed.problems },
    });
  } catch (err) {
    if (!(err instanceof EtcdError)) throw err;
    // Refused (a password changed, a certificate expired) is as much "no config from etcd" as
    // unreachable: the gateway starts on its last good config all the same, and says which.
    unreachable =
      err.kind === 'unreachable'
        ? `etcd cannot be reached (${err.message})`
        : `etcd refused this gateway (${err.message})`;
    if (err.kind !== 'unreachable') deniedBy = err.message;
  }
  return onLastGood(bootstrap, client, undefined, {
    unreachable,
    ...(deniedBy === undefined ? {} : { deniedBy }),
  });
}

/**
 * The last good document, composed and written; the gateway starts on it and says why. The
 * watch starts after the refused revision, or, etcd unreachable, from the key read afresh once
 * etcd answers, so that the next push (or one made meanwhile) is taken.
 */
export function onLastGood(
  bootstrap: Bootstrap,
  client: EtcdClient,
  watchFrom: number | undefined,
  /**
   * `unreachable`: why etcd could not be read, said as a sentence ("etcd cannot be reached (…)");
   * `deniedBy`: etcd's own refusal of this gateway, when that was why.
   */
  why: {
    /** Why etcd's value was not taken: the key holds none ("etcd holds no config at KEY"). */
    empty?: string;
    unreachable?: string;
    deniedBy?: string;
    refused?: { revision: number; problems: readonly ConfigProblem[] };
  },
): Prepared {
  const good = readLastGood(bootstrap.state);
  const what =
    why.refused !== undefined
      ? `revision ${why.refused.revision} under ${bootstrap.etcd.key} is refused`
      : (why.empty ?? why.unreachable ?? 'etcd cannot be read');
  const config = why.refused === undefined ? {} : ({ config: true } as const);
  // A last good that cannot be trusted is as good as none: the gateway does not start on it.
  if (good !== undefined && 'unusable' in good)
    return {
      problem: `${what}, and the last good config in ${lastGoodFile(bootstrap.state)} cannot be used: ${good.unusable}${
        why.refused === undefined ? '' : `\n${new ConfigError(why.refused.problems).message}`
      }`,
      ...config,
    };
  if (good === undefined)
    return why.refused !== undefined
      ? {
          problem: `${what}, and there is no last good config in ${bootstrap.state} to start on:\n${new ConfigError(why.refused.problems).message}`,
          ...config,
        }
      : { problem: `${what}, and there is no last good config in ${bootstrap.state} to start on` };
  const composed = composeConfig(good.document, bootstrap, documentLabel(bootstrap.etcd.key, good.revision));
  if ('problems' in composed)
    return {
      problem: `${what}, and the last good config cannot be composed: ${new ConfigError(composed.problems).message}`,
      ...config,
    };
  const file = writeRunning(bootstrap.state, composed.text);
  const at = new Date().toISOString();
  const start: FleetStart = {
    bootstrap,
    client,
    document: good.document,
    revision: good.revision,
    ...(good.author === undefined ? {} : { author: good.author }),
    // Not from the last good's revision: a number read from disk is never what decides which of
    // etcd's revisions are newer (the key is read first when etcd answers; fleet-source.ts).
    ...(watchFrom === undefined ? {} : { watchFrom }),
    // Refused is no outage: the status says etcd refuses this gateway, not that it is away.
    ...(why.deniedBy !== undefined
      ? { denied: { since: at, why: why.deniedBy } }
      : why.unreachable === undefined
        ? {}
        : { unreachableSince: at }),
    ...(why.refused === undefined ? {} : { refused: { ...why.refused, at } }),
    ...(why.empty === undefined ? {} : { keyEmpty: true }),
  };
  return {
    file,
    start,
    layout: layoutOf(composed),
    notes: [`${what}: starting on the last good config, revision ${good.revision} (kept ${good.at})`],
    because: what,
  };
}

/** Where the document and local are in a composed file, without its text (kept for the gateway's life). */
function layoutOf({ documentLines, localIndent, localInFlow }: ComposedLayout): ComposedLayout {
  return { documentLines, localIndent, localInFlow };
}

/** A problem of the composed file, told where it was written (the document at its revision, or the bootstrap's local section). */
export function placeStartProblem(
  problem: ConfigProblem,
  prepared: Extract<Prepared, { file: string }>,
): ConfigProblem {
  return placeProblem(
    problem,
    prepared.file,
    prepared.start.bootstrap,
    documentLabel(prepared.start.bootstrap.etcd.key, prepared.start.revision),
    prepared.layout,
  );
}
