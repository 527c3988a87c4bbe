/**
 * Where a fleet gateway stands with etcd: reachable, unreachable since when, or answering and
 * refusing it (a wrong password, a user without the key: a setting to fix, never taken for
 * etcd's absence). Each change is said once in the log; the gateway's record and GET /status
 * read the state (fleet-source.ts).
 */
import type { Logger } from '../../observe/log/logger.ts';
import type { Denied } from './fleet-start.ts';

/** The source's state, as GET /status and the status page show it. */
export interface SourceStatus {
  readonly kind: 'etcd';
  readonly key: string;
  readonly endpoints: readonly string[];
  readonly revision: number;
  readonly author: string | null;
  readonly since: string;
  readonly reachable: boolean;
  readonly unreachable_since: string | null;
  /** One line: "etcd reachable, running revision 12" or "source unreachable since …, running revision 12". */
  readonly summary: string;
  readonly refused: { revision: number; at: string; problems: string[] } | null;
  /** etcd refuses this gateway (a wrong password): no outage, a setting to fix; null while it does not. */
  readonly denied: Denied | null;
}

export class SourceReach {
  readonly #key: string;
  readonly #logger: Logger;
  #unreachableSince: string | undefined;
  #denied: Denied | undefined;

  /** `start`: how the gateway started (on its last good config with etcd away or refusing, or not). */
  constructor(key: string, start: { unreachableSince?: string; denied?: Denied }, logger: Logger) {
    this.#key = key;
    this.#logger = logger;
    this.#unreachableSince = start.unreachableSince;
    this.#denied = start.denied;
  }

  /** Since when etcd is unreachable (ISO); undefined while it answers. */
  get unreachableSince(): string | undefined {
    return this.#unreachableSince;
  }

  /** etcd answers and refuses this gateway: since when, and its words. */
  get denied(): Denied | undefined {
    return this.#denied;
  }

  get reachable(): boolean {
    return this.#unreachableSince === undefined && this.#denied === undefined;
  }

  /**
   * The key's follower found etcd answering again, or away (`refused`: answering, refusing):
   * said, with the revision running. Whether the state changed (the record is written again).
   */
  heard(reachable: boolean, why: string, refused: boolean, revision: number): boolean {
    const source = this.#key;
    if (reachable) {
      this.#logger.info(
        {
          source,
          revision,
          was_unreachable_since: this.#unreachableSince,
          was_refused_since: this.#denied?.since,
        },
        'config source reachable again',
      );
      this.#unreachableSince = undefined;
      this.#denied = undefined;
    } else if (refused) {
      if (this.#denied !== undefined) return false;
      // etcd answers: refusing is no outage, so no longer unreachable since.
      this.#unreachableSince = undefined;
      this.#denied = { since: new Date().toISOString(), why };
      this.#logger.warn(
        { source, revision, why },
        `config source refuses this gateway: running revision ${revision}, serving on`,
      );
    } else {
      if (this.#unreachableSince !== undefined && this.#denied === undefined) return false;
      this.#denied = undefined;
      this.#unreachableSince = new Date().toISOString();
      this.#logger.warn(
        { source, revision, why },
        `config source unreachable: running revision ${revision}, serving on`,
      );
    }
    return true;
  }

  /** One line: "etcd reachable, running revision 12" or "source unreachable since …, running revision 12". */
  summary(revision: number): string {
    const denied = this.#denied;
    const unreachable = this.#unreachableSince;
    if (denied !== undefined)
      return `etcd refuses this gateway since ${denied.since} (${denied.why}), running revision ${revision}`;
    return unreachable === undefined
      ? `etcd reachable, running revision ${revision}`
      : `source unreachable since ${unreachable}, running revision ${revision}`;
  }
}
