/**
 * A gateway's config source, in the cluster primary: the key followed from the revision the
 * gateway started on; each newer revision composed with the bootstrap's local section, written
 * to the state folder and applied by the reload every other reload is (ClusterControl: read and
 * validated in a process of its own, every worker swapped atomically); applied, it is the last
 * good one; refused, the config before is written back and the refusal reported (revision,
 * position, field). etcd lost, the gateway serves on and says since when.
 */
import { composeConfig, documentLabel, placeProblem } from '../../core/config/composed-config.ts';
import { type ConfigProblem, formatConfigProblem } from '../../core/config/config-error.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { PrimaryFamily } from '../../observe/metrics/cluster.ts';
import type { KeyValue } from '../../upstream/config-source/etcd-client.ts';
import { type KeyFollowing, startFollowing } from '../../upstream/config-source/key-watch.ts';
import {
  type ApplyReload,
  appliedLine,
  type NoteRevision,
  type Wanted,
  workersRefused,
} from './applied-line.ts';
import { pushAuthor, pushRecordAt } from './config-push.ts';
import type { Canary, GatewayRecord } from './fleet-keys.ts';
import type { FleetStart, RevisionRefused } from './fleet-start.ts';
import { GatewayLease, toldNameTaken } from './gateway-lease.ts';
import { keptOrWhy, runningFile, writeRunning, writtenOrWhy } from './last-good.ts';
import { gatewayRecord, type RunningState, sourceGauges, sourceStatus } from './running-view.ts';
import { SourceReach, type SourceStatus } from './source-reach.ts';

export class FleetSource {
  readonly #start: FleetStart;
  readonly #reload: ApplyReload;
  readonly #note: NoteRevision;
  readonly #logger: Logger;
  #running: { revision: number; document: string; author?: string; hash: string; since: string };
  /** The latest revision run that was not a canary's: where a canary goes back to when the config key holds nothing. */
  #lastGood: { revision: number; document: string; author?: string };
  readonly #reach: SourceReach;
  /**
   * Started on the last good config (or etcd's history went back: #historyLost): the running
   * revision is not one this etcd gave, so it decides nothing. Until a value from etcd runs, etcd's value is taken when it differs
   * from the document running (and its revision named when it is the same), whatever its number.
   */
  #onLastGood: boolean;
  /**
   * The latest revision refused, while it is the newest seen: a revision seen after it that runs
   * (applied, or taken as the document running) makes it history, said in the log, and no longer
   * in /status, the metrics or the record, where it would be read as the gateway's state now.
   */
  #refused: RevisionRefused | undefined;
  /** The newest revision seen (or a canary's, or the way back from one) not yet applied or refused: only the newest is worth applying. */
  #pending: Wanted | undefined;
  #applying = false;
  /** The revision being applied now (taken off #pending as its apply began). */
  #inApply: Wanted | undefined;
  /** The latest canary rolled back: not applied if it comes late, left if it runs. */
  #endedCanary: number | undefined;
  #following: KeyFollowing | undefined;
  #lease: GatewayLease | undefined;
  readonly #address: string;
  /** This machine's name, in the record beside the address (fleet-keys.ts's GatewayRecord.host). */
  readonly #host = process.getBuiltinModule('node:os').hostname();

  constructor(
    start: FleetStart,
    hash: string,
    address: string,
    reload: ApplyReload,
    note: NoteRevision,
    logger: Logger,
  ) {
    this.#start = start;
    this.#reload = reload;
    this.#note = note;
    this.#logger = logger;
    this.#address = address;
    const since = new Date().toISOString();
    this.#running = { revision: start.revision, document: start.document, author: start.author, hash, since };
    this.#lastGood = this.#running;
    this.#reach = new SourceReach(start.bootstrap.etcd.key, start, logger);
    this.#refused = start.refused;
    this.#onLastGood =
      start.unreachableSince !== undefined ||
      start.refused !== undefined ||
      start.denied !== undefined ||
      start.keyEmpty === true;
    // Started on etcd's revision (not on a last good one kept from before): that one is good now.
    // A state folder that cannot keep it is said, as for a revision applied later: it never
    // keeps the gateway from following etcd (a throw here left it unfollowed, out of the fleet).
    const unkept = this.#onLastGood
      ? undefined
      : keptOrWhy(start.bootstrap.state, {
          document: start.document,
          revision: start.revision,
          hash,
          at: since,
          ...(start.author === undefined ? {} : { author: start.author }),
        });
    if (unkept !== undefined)
      logger.error({ source: start.bootstrap.etcd.key, revision: start.revision }, unkept);
  }

  /** Follows the key and writes this gateway's record under its lease. */
  start(): void {
    const { client, bootstrap } = this.#start;
    // A renewal of the lease that finds etcd away tells the watch, which a silent member never ends.
    this.#lease = new GatewayLease(
      client,
      bootstrap.etcd.key,
      this.#record(),
      (why) => this.#following?.reopen(`the lease's renewal failed: ${why}`),
      (holder) => toldNameTaken(this.#logger, this.#start.bootstrap.name, this.#address, holder),
    );
    this.#lease.start();
    // Started on the last good config with etcd away: the follower must know, so that the first
    // watch it opens says etcd answers again.
    this.#following = startFollowing(
      client,
      bootstrap.etcd.key,
      this.#start.watchFrom,
      {
        onValue: (kv, revision) => this.#seen(kv, revision),
        onReachable: (reachable, why, refused) => this.#reachable(reachable, why, refused === true),
        onHistoryLost: (seen, now) => this.#historyLost(seen, now),
      },
      this.#reach.reachable,
      this.#start.keyAt,
    );
  }

  /** Stops following the key and revokes the lease: once (a drain's start asks, then the exit). */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#following?.stop();
      await this.#lease?.stop();
    })();
    return this.#stopping;
  }

  #stopping: Promise<void> | undefined;

  status(): SourceStatus {
    return sourceStatus(this.#view());
  }

  /** The source's gauges, for the primary's /metrics. */
  gauges(): readonly PrimaryFamily[] {
    return sourceGauges(this.#view());
  }

  #record(): GatewayRecord {
    return gatewayRecord(this.#view(), {
      name: this.#start.bootstrap.name,
      address: this.#address,
      host: this.#host,
    });
  }

  #view(): RunningState {
    const { key, endpoints } = this.#start.bootstrap.etcd;
    return { key, endpoints, running: this.#running, refused: this.#refused, reach: this.#reach };
  }

  #reachable(reachable: boolean, why: string, refused: boolean): void {
    if (this.#reach.heard(reachable, why, refused, this.#running.revision))
      this.#lease?.update(this.#record());
  }

  /**
   * etcd's revisions began again below the ones seen (restored, rebuilt): the running revision's
   * number means nothing to this etcd, so its value is taken as after a start on the last good
   * config (#sync), and every write after it whatever its number.
   */
  #historyLost(seen: number, now: number): void {
    this.#onLastGood = true;
    this.#logger.warn(
      { source: this.#start.bootstrap.etcd.key, seen, revision: now, running: this.#running.revision },
      `etcd's revisions went back from ${seen} to ${now} (its data restored or lost): the key's value there is taken whatever its revision`,
    );
  }

  #seen(kv: KeyValue | undefined, revision: number): void {
    if (kv === undefined) {
      this.#logger.warn(
        { source: this.#start.bootstrap.etcd.key, revision, running: this.#running.revision },
        'the config key was deleted: the running config stays',
      );
      return;
    }
    if (this.#onLastGood) return this.#sync(kv);
    // Never back to an older revision than the one running (a watch replayed after a reconnect).
    if (kv.modRevision <= this.#running.revision || kv.modRevision <= (this.#pending?.revision ?? 0)) return;
    this.#want({ document: kv.value, ...undecodableOf(kv), revision, how: 'follow' });
  }

  /** etcd's value after a start on the last good config: applied if it is another document, else only its revision taken (#apply). */
  #sync(kv: KeyValue): void {
    this.#want({ document: kv.value, ...undecodableOf(kv), revision: kv.modRevision, how: 'sync' });
  }

  /**
   * A config canary this gateway is one of (fleet-canary.ts): its revision applied here, and
   * not kept as the last good one (a restart while etcd is away starts on the fleet's revision).
   */
  takeCanary(canary: Canary): void {
    const revision = canary.revision;
    if (revision === this.#endedCanary || this.#running.revision === revision) return;
    // Refused here already: a record written again (a look) brings the same document, refused again.
    if (this.#refused?.revision === revision) return;
    // Already coming, or being applied now (a canary record written again meanwhile: a look).
    if (this.#pending?.revision === revision) return;
    if (this.#inApply?.how === 'canary' && this.#inApply.revision === revision) return;
    this.#want({ document: canary.document, revision, author: canary.author, how: 'canary' });
  }

  /**
   * The canary of this gateway was rolled back: the revision under the config key (the one the
   * canary was pushed over) applied again, older than the canary's as it is. Also when its
   * revision is still being applied: once applied, it is left at once (#applyPending).
   */
  async leaveCanary(canary: Canary): Promise<void> {
    this.#endedCanary = canary.revision;
    if (this.#pending?.revision === canary.revision) this.#pending = undefined;
    if (this.#running.revision !== canary.revision && !this.#applying) return;
    const kv = (await this.#start.client.range(this.#start.bootstrap.etcd.key)).kvs[0];
    if (kv !== undefined)
      return this.#want({ document: kv.value, ...undecodableOf(kv), revision: kv.modRevision, how: 'back' });
    // The key deleted meanwhile: nothing the fleet runs to go back to but the last good config.
    const { document, revision, author } = this.#lastGood;
    this.#want({
      document,
      revision,
      ...(author === undefined ? {} : { author }),
      how: 'back',
      keyEmpty: true,
    });
  }

  /** The revision running now. */
  get revision(): number {
    return this.#running.revision;
  }

  /** This gateway's lease (its record's), for the keys that must go when it does. */
  get lease(): GatewayLease | undefined {
    return this.#lease;
  }

  #want(wanted: Wanted): void {
    const revision = wanted.revision;
    this.#pending = wanted;
    this.#applyPending().catch((err: Error) =>
      // A state folder that cannot be written (disk full, permissions): said, and the running config stays.
      this.#logger.error(
        { source: this.#start.bootstrap.etcd.key, revision, err: err.message },
        `config revision ${revision} not applied: ${err.message}; the running config stays`,
      ),
    );
  }

  async #applyPending(): Promise<void> {
    if (this.#applying) return;
    this.#applying = true;
    try {
      while (this.#pending !== undefined) {
        const wanted = this.#pending;
        this.#pending = undefined;
        // A canary's revision, or the way back from one, is applied whatever its number: asked
        // for by name (a canary not if it ended meanwhile; the way back only from the canary).
        const ended = this.#endedCanary;
        // etcd's value after a start on the last good config, whatever its number (#sync).
        const apply =
          wanted.how === 'sync' ||
          (wanted.how === 'follow'
            ? wanted.revision > this.#running.revision
            : wanted.how === 'canary'
              ? wanted.revision !== ended
              : this.#running.revision === ended);
        if (!apply) continue;
        this.#inApply = wanted;
        await this.#apply(wanted);
        this.#inApply = undefined;
      }
    } finally {
      this.#inApply = undefined;
      this.#applying = false;
    }
  }

  async #apply(wanted: Wanted): Promise<void> {
    const { bootstrap } = this.#start;
    const { revision, document, how } = wanted;
    const record =
      wanted.author === undefined
        ? await pushRecordAt(this.#start.client, bootstrap.etcd.key, revision)
        : undefined;
    const author = wanted.author ?? pushAuthor(record ?? 'none');
    // A rollback (candor config rollback) is said as one on the timeline, as the history says it.
    const rollback =
      typeof record === 'object' && record.rollback_of !== undefined
        ? { rollback_of: record.rollback_of }
        : {};
    // Bytes that are not UTF-8 are never the document running, whatever they decode to.
    if (document === this.#running.document && wanted.undecodable === undefined)
      return this.#sameDocument(wanted, author, rollback);
    const label = documentLabel(bootstrap.etcd.key, revision);
    const composed = composeConfig(document, bootstrap, label, wanted.undecodable);
    if ('problems' in composed) return this.#refuse(revision, composed.problems);
    // A state folder that cannot take it (full, read-only): it cannot run, a refusal shown as any is.
    const file = writtenOrWhy(bootstrap.state, composed.text);
    if (typeof file !== 'string') return this.#refuse(revision, [{ ...file, file: label }]);
    const answer = await this.#reload({ revision, author, ...rollback });
    // Draining: nothing more is applied.
    if (!('config_hash' in answer)) return;
    if (answer.result === 'invalid') {
      const problems = ('problems' in answer ? (answer.problems ?? []) : []).map((p) =>
        placeProblem(p, file, bootstrap, label, composed),
      );
      this.#writeBack();
      return this.#refuse(revision, problems);
    }
    // Every worker refused it, not for the document: the config before runs on (workersRefused).
    const refusals = workersRefused(answer, label);
    if (refusals !== undefined) {
      this.#writeBack();
      return this.#refuse(revision, refusals);
    }
    const since = new Date().toISOString();
    this.#running = { revision, document, author, hash: answer.config_hash, since };
    this.#refused = undefined;
    if (how !== 'canary') {
      this.#onLastGood = false;
      this.#lastGood = { revision, document, author };
    }
    // A state folder that cannot keep it (full, damaged) changes nothing of what runs: said, never taken for the revision not applied.
    const unkept =
      how === 'canary'
        ? undefined
        : keptOrWhy(bootstrap.state, { document, revision, hash: answer.config_hash, at: since, author });
    if (unkept !== undefined) this.#logger.error({ source: bootstrap.etcd.key, revision }, unkept);
    const line = appliedLine(revision, wanted.keyEmpty ? 'back from an empty key' : how, answer);
    this.#logger[line.level](
      {
        source: bootstrap.etcd.key,
        revision,
        author,
        config_hash: answer.config_hash,
        result: answer.result,
        ...(how === 'follow' || how === 'sync' ? {} : { canary: how }),
      },
      line.msg,
    );
    this.#lease?.update(this.#record());
  }

  /**
   * A revision of the document running (pushed again, rolled back to, pushed while this gateway
   * ran its last good copy): nothing to reload, but it is the revision running now, named in
   * /status, the metrics and the record, and kept on disk with it, so that neither the fleet's
   * status nor a restart takes the gateway for one behind.
   */
  #sameDocument(wanted: Wanted, author: string, rollback: { rollback_of?: number }): void {
    const { bootstrap } = this.#start;
    const { revision, document, how } = wanted;
    const { hash } = this.#running;
    const since = new Date().toISOString();
    this.#running = { revision, document, author, hash, since };
    this.#refused = undefined;
    if (how !== 'canary') {
      this.#onLastGood = false;
      this.#lastGood = { revision, document, author };
      const unkept = keptOrWhy(bootstrap.state, { document, revision, hash, at: since, author });
      if (unkept !== undefined) this.#logger.error({ source: bootstrap.etcd.key, revision }, unkept);
    }
    this.#note({ revision, author, ...rollback, config_hash: hash });
    this.#logger.info(
      { source: bootstrap.etcd.key, revision, author, config_hash: hash },
      `config revision ${revision} taken: it holds the document running already, so nothing was reloaded`,
    );
    this.#lease?.update(this.#record());
  }

  /** The running revision's composed config back in the file reloads read: a SIGHUP must not pick up the refused one. */
  #writeBack(): void {
    const { bootstrap } = this.#start;
    const composed = composeConfig(
      this.#running.document,
      bootstrap,
      documentLabel(bootstrap.etcd.key, this.#running.revision),
    );
    if ('text' in composed) writeRunning(bootstrap.state, composed.text);
  }

  #refuse(revision: number, problems: readonly ConfigProblem[]): void {
    this.#refused = { revision, at: new Date().toISOString(), problems };
    this.#logger.error(
      {
        source: this.#start.bootstrap.etcd.key,
        revision,
        running: this.#running.revision,
        problems: problems.map(formatConfigProblem),
      },
      `config revision ${revision} refused: the running config (revision ${this.#running.revision}) stays`,
    );
    this.#lease?.update(this.#record());
  }

  /** The file the gateway's reloads read (for the start line and GET /status's config.source). */
  get file(): string {
    return runningFile(this.#start.bootstrap.state);
  }
}

/** A value's place where it stops being UTF-8, as a Wanted's field (none when it is UTF-8). */
function undecodableOf(kv: KeyValue): Pick<Wanted, 'undecodable'> {
  return kv.undecodable === undefined ? {} : { undecodable: kv.undecodable };
}
