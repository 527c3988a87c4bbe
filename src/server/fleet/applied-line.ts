/**
 * A revision a gateway applies (fleet-source.ts): what it is, the reload that applies it and
 * what that answers, and the log line of it applied: what it was applied as, and, when the reload
 * was incomplete, which workers did not confirm the swap. Said as applied (the primary runs it,
 * and a worker that answers late swaps to it) but at `warn`: until then those workers serve the
 * config before, which a plain "applied" at `info` would hide.
 */
import type { ConfigProblem } from '../../core/config/config-error.ts';
import type { Undecodable } from '../../core/config/utf8.ts';

/** A revision to apply: one the key followed brought, a canary's, or the key's again after a canary. */
export interface Wanted {
  readonly document: string;
  /** Where etcd's value stops being UTF-8: refused there (composed-config.ts). */
  readonly undecodable?: Undecodable;
  readonly revision: number;
  readonly author?: string;
  /** `sync`: etcd's value, first seen after a start on the last good config, taken whatever its number. */
  readonly how: 'follow' | 'sync' | 'canary' | 'back';
  /** A way back from a canary when the config key held nothing (deleted): the last good config's revision. */
  readonly keyEmpty?: true;
}

/**
 * A reload's answer as far as the source reads it (cluster/reload-report.ts's ReloadReport: ok,
 * incomplete or invalid with its problems; anything else, such as a drain, has no hash).
 */
export type ReloadAnswer =
  | {
      readonly result: string;
      readonly config_hash: string;
      readonly problems?: readonly ConfigProblem[];
      /** The workers that did not confirm the swap, and why (an `incomplete` reload's). */
      readonly workers?: { readonly failed: readonly { id: number; reason: string }[] };
      /** No worker swapped and none may: the config before runs on (ReloadReport.reverted). */
      readonly reverted?: true;
    }
  | { readonly result: string };

/** What applies a revision: the primary's reload (ClusterControl.reload), told who asked. */
export type ApplyReload = (who: Pushed) => Promise<ReloadAnswer>;

/** A revision taken from etcd as the timeline names it: its number, who pushed it, and the revision it rolled back to (a rollback's). */
export interface Pushed {
  readonly revision: number;
  readonly author: string;
  readonly rollback_of?: number;
}

/** What records a revision taken without a reload (the document running already) in the deploy timeline. */
export type NoteRevision = (taken: Pushed & { config_hash: string }) => void;

export function appliedLine(
  revision: number,
  how: Wanted['how'] | 'back from an empty key',
  /** The reload's answer, as far as this line reads it. */
  answer: ReloadAnswer,
): { level: 'info' | 'warn'; msg: string } {
  const what =
    how === 'canary'
      ? `config revision ${revision} applied as a canary`
      : how === 'back'
        ? `config revision ${revision} applied again: the canary rolled back`
        : how === 'back from an empty key'
          ? `config revision ${revision} applied again: the canary rolled back and the config key holds nothing, so the last good config runs`
          : `config revision ${revision} applied`;
  const failed = ('workers' in answer ? answer.workers?.failed : undefined) ?? [];
  if (answer.result !== 'incomplete' || failed.length === 0) return { level: 'info', msg: what };
  const workers = failed.map(({ id, reason }) => `worker ${id} (${reason})`).join(', ');
  return {
    level: 'warn',
    msg: `${what}, but not by every worker yet: ${workers} did not confirm the swap, and serves the config before until it does`,
  };
}

/**
 * The problems of a revision every worker refused, not all for the document (a file it names
 * gone when a worker read it: an error, not a problem of the config), each worker's reason at
 * the revision: the primary went back to the config before, so nothing runs it. Undefined when
 * the reload was not so.
 */
export function workersRefused(answer: ReloadAnswer, label: string): ConfigProblem[] | undefined {
  if (!('reverted' in answer) || answer.reverted !== true) return undefined;
  return (answer.workers?.failed ?? []).map(({ id, reason }) => ({
    file: label,
    line: 0,
    column: 0,
    path: '',
    message: `worker ${id}: ${reason}`,
  }));
}
