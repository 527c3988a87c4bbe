/**
 * The cluster primary's reloads: the file read and validated once, the new config sent to every
 * worker and their answers read, a reload asked while one waits merged into it, none while the
 * gateway drains; and the config in force, its version and the last reload's report. The
 * control (cluster-control.ts) extends it with the admin API's runtime changes, purges and
 * queries, which run in the same queue: one object, split in two files, so that the reload's
 * way from the file to the workers reads on its own.
 */
import { resolve } from 'node:path';
import type { ConfigProblem } from '../../core/config/config-error.ts';
import { configHash } from '../../core/config/config-hash.ts';
import { keptFieldLines } from '../../core/config/field-lines.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import type { ReloadEvent } from '../../observe/events/gateway-event.ts';
import { Timeline } from '../../observe/events/timeline.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { reloadChanges } from '../gateway/reload-plan.ts';
import { logCertificateDates } from './certificate-date-log.ts';
import type { Caller, NotTheRunningFile, ReloadReport, WhileDraining } from './reload-report.ts';
import { WorkerRequests } from './worker-requests.ts';

/**
 * What a reload runs (the file's read, the workers' answers read), loaded with the first reload:
 * with what checks the runtime changes (cluster-control.ts), some 45 KB of source a primary never
 * reloaded or changed does without (test/server/cli/lean-processes.test.ts).
 */
const reloading = () => Promise.all([import('./reload-read.ts'), import('./reload-report.ts')]);

/**
 * The path `path` leads to, symlinks followed; undefined if it leads nowhere. node:fs's
 * callback, not node:fs/promises: the primary would load fs/promises, its streams and
 * readline for this one call, about 1 MiB (test/server/cli/lean-processes.test.ts).
 */
function realPathOf(path: string): Promise<string | undefined> {
  return new Promise((done) =>
    process.getBuiltinModule('node:fs').realpath(path, (err, real) => done(err ? undefined : real)),
  );
}

/** A reload waiting its turn: who asked for it first, and its answer (each caller merged into it gets it too). */
interface QueuedReload {
  /** Who it reloads for: the first to ask, or a push merged into it (reload()). */
  caller: Caller;
  readonly report: Promise<ReloadReport | WhileDraining>;
}

/**
 * The reloads of the config the cluster primary controls (ClusterControl, cluster-control.ts, is
 * the one made): what the admin API's POST /reload and SIGHUP call.
 */
export abstract class ClusterReloads {
  readonly #path: string;
  protected readonly logger: Logger;
  #config: GatewayConfig;
  /** The request/answer layer over each worker's IPC channel. */
  protected readonly workers = new WorkerRequests();
  #version = 1;
  #lastReload: ReloadReport | undefined;
  /** Reloads and changes run one at a time, in the order asked. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The reload last in the queue, not begun yet: a reload asked meanwhile is merged into it. */
  #nextReload: QueuedReload | undefined;
  /** Fires when the drain begins: a reload's read under way is given up (its process killed). */
  readonly #drainBegan = new AbortController();
  /** Called after each reload whose snapshot is now the config in force (the primary moves the admin listener). */
  onSwapped: () => void = () => {};
  /** Called after each reload that read the file, with its result (the primary counts it in the metrics). */
  onReloaded: (result: ReloadReport['result']) => void = () => {};
  /**
   * The config with each discovered upstream's targets as DNS last answered (the primary runs the
   * discovery): what a runtime change is checked against, and pruned by, as every worker does.
   */
  withDiscovered: (config: GatewayConfig) => GatewayConfig = (config) => config;

  /**
   * The primary's deploy timeline: the reloads and admin changes made here, and (primary.ts
   * hands it to the health checks and DNS discovery it runs) targets' health and DNS answers.
   */
  readonly timeline: Timeline;

  constructor(path: string, config: GatewayConfig, logger: Logger, timeline = new Timeline(logger)) {
    this.#path = path;
    this.#config = config;
    this.logger = logger;
    this.timeline = timeline;
  }

  get config(): GatewayConfig {
    return this.#config;
  }

  get draining(): boolean {
    return this.#drainBegan.signal.aborted;
  }

  /**
   * The gateway drains from now on: no reload more, and the one reading its file gives up. Its
   * read (bounded to 10 s, load-isolated.ts) held the primary past a shorter drain.timeout, then
   * reported on a gateway already drained.
   */
  set draining(draining: boolean) {
    if (draining) this.#drainBegan.abort();
  }

  get version(): number {
    return this.#version;
  }

  get lastReload(): ReloadReport | undefined {
    return this.#lastReload;
  }

  /**
   * Reads and validates the file, then swaps every worker; resolves when each confirmed or
   * failed. `named`: the file the caller means to load (an absolute path); when it is not the
   * file the gateway runs (compared as the paths they lead to, so a symlink to it is it),
   * nothing is read: the caller would believe another file in force.
   */
  async reload(caller: Caller, named?: string): Promise<ReloadReport | NotTheRunningFile | WhileDraining> {
    if (this.draining) return this.#whileDraining(caller);
    if (named !== undefined && !(await this.#runs(named))) {
      this.logger.warn(
        { via: caller.via, who: caller.who, running_file: this.file, named_file: named },
        'reload refused: the file named is not the one the gateway runs',
      );
      return { result: 'not_running_file', running_file: this.file, named_file: named };
    }
    // One queued and not begun reads the file after this caller asked: it answers this one too
    // (nginx merges its reloads so): ten SIGHUPs while one reload runs make one more, not ten.
    const queued = this.#nextReload;
    if (queued !== undefined) {
      this.logger.info(
        { via: caller.via, who: caller.who, merged_into: { via: queued.caller.via, who: queued.caller.who } },
        'reload asked while one waits to begin: that one answers it',
      );
      // A push's reload (its revision written to the file that one reads) makes that one the
      // push's: the timeline says which revision it brought, and who pushed it, as it would have.
      if (caller.pushed !== undefined) queued.caller = caller;
      return queued.report;
    }
    const next: QueuedReload = {
      caller,
      report: this.serial(() => {
        // Begun: it reads the file now, so one asked from here on waits for a reload of its own.
        if (this.#nextReload === next) this.#nextReload = undefined;
        return this.draining ? Promise.resolve(this.#whileDraining(next.caller)) : this.#reload(next.caller);
      }),
    };
    this.#nextReload = next;
    return next.report;
  }

  /**
   * A reload refused because the gateway drains; `stopped`: what of it had begun and was given up,
   * its read, or the workers' swap (each worker gives a reload up when the drain begins under it).
   */
  #whileDraining(caller: Caller, stopped?: 'read' | 'swap'): WhileDraining {
    const given =
      stopped === undefined
        ? {}
        : stopped === 'read'
          ? { read_stopped: true as const }
          : { swap_stopped: true as const };
    this.logger.warn(
      { via: caller.via, who: caller.who, file: this.file, ...given },
      'reload refused: the gateway is draining; the running config stays',
    );
    return { result: 'draining', file: this.file, ...given };
  }

  /** The file the gateway runs and reloads, as an absolute path. */
  get file(): string {
    return resolve(this.#path);
  }

  /** Whether `named` leads to the file a reload reads (a file that cannot be found leads nowhere). */
  async #runs(named: string): Promise<boolean> {
    const [running, asked] = await Promise.all([this.file, resolve(named)].map(realPathOf));
    return running !== undefined && running === asked;
  }

  async #reload(caller: Caller): Promise<ReloadReport | WhileDraining> {
    const at = new Date().toISOString();
    const base = { at, via: caller.via, who: caller.who, file: this.file };
    const [{ readForReload }, { readReloadAnswers }] = await reloading();
    const read = await readForReload(this.#path, this.#config, this.#drainBegan.signal);
    if ('stopped' in read) return this.#whileDraining(caller, 'read');
    if ('problems' in read) return this.#refused(base, caller, read.problems, { confirmed: [], failed: [] });
    const { next, asWritten } = read;
    const previous = this.#config;
    // From here a worker started (after a crash) gets the new snapshot, like the others.
    this.#config = next;
    const answers = await this.workers.askAll((id) => ({
      candor: 'reload',
      id,
      config: next,
      lines: keptFieldLines(next),
    }));
    const { confirmed, failed, outcome, refusals, everyFailureIsTheFile, unanswered } = readReloadAnswers(
      answers,
      asWritten,
      this.draining,
    );
    // The drain began while the workers swapped, and none did (each gave the reload up, or
    // exited drained before it answered): nothing changed, as for a reload asked during the drain.
    if (this.draining && confirmed.length === 0) {
      this.#config = previous;
      return this.#whileDraining(caller, 'swap');
    }
    // Back to the config before only when no worker swapped and none still may: the primary's
    // view (GET /config, /status, a restarted worker's start) is what the workers will run.
    if (confirmed.length === 0 && failed.length > 0 && !unanswered) {
      this.#config = previous;
      // Every worker refused the file for what it asks (a listener that cannot open): nothing
      // changed anywhere, so this is the file refused, as an invalid one is, not a swap left half done.
      if (everyFailureIsTheFile)
        return this.#refused(base, caller, [...refusals.values()], { confirmed, failed });
    } else {
      this.#version++;
      this.timeline.record({
        kind: 'reload',
        config_hash: configHash(next),
        via: caller.via,
        ...(caller.pushed === undefined ? {} : pushedFields(caller.pushed)),
        ...reloadChanges(previous, next),
      });
      for (const what of this.prunedChanges(next))
        this.logger.warn({ change: what }, 'runtime change dropped: its target or route left the config');
    }
    const report: ReloadReport = {
      ...base,
      result: failed.length === 0 ? 'ok' : 'incomplete',
      config_hash: configHash(this.#config),
      workers: { confirmed, failed },
      ...(outcome === undefined ? {} : { outcome }),
      ...(this.#config === previous && failed.length > 0 ? { reverted: true } : {}),
    };
    this.#lastReload = report;
    this.onReloaded(report.result);
    if (this.#config === next) this.onSwapped();
    const fields = {
      via: caller.via,
      who: caller.who,
      config_hash: report.config_hash,
      version: this.#version,
      workers: report.workers,
    };
    if (failed.length === 0) this.logger.info({ ...fields, ...outcome }, 'config reloaded');
    else if (report.reverted === true)
      this.logger.error(fields, 'reload refused: every worker failed to swap, the running config stays');
    else this.logger.error(fields, 'reload incomplete: some workers did not confirm the swap');
    // A certificate or list copied in place, then reloaded: its dates said in the log too.
    if (this.#config === next) await logCertificateDates(next, this.logger);
    return report;
  }

  /** A reload refused whole: nothing changed, each problem names a part of the file that cannot apply. */
  #refused(
    base: Pick<ReloadReport, 'at' | 'via' | 'who' | 'file'>,
    caller: Caller,
    problems: readonly ConfigProblem[],
    workers: ReloadReport['workers'],
  ): ReloadReport {
    const report: ReloadReport = {
      ...base,
      result: 'invalid',
      config_hash: configHash(this.#config),
      problems,
      workers,
    };
    this.#lastReload = report;
    this.onReloaded(report.result);
    this.logger.error(
      { via: caller.via, who: caller.who, file: base.file, problems },
      'reload refused: the config is invalid; the running config stays',
    );
    return report;
  }

  /** The runtime changes a reload's config drops (their target or route left it), each said. */
  protected abstract prunedChanges(next: GatewayConfig): readonly string[];

  /** Runs `work` after every reload and change asked before it (the admin API's changes and purges too). */
  protected serial<T>(work: () => Promise<T>): Promise<T> {
    // What comes after a queued reload is not passed by one merged into it (reload): it waits.
    this.#nextReload = undefined;
    const done = this.#queue.then(work);
    this.#queue = done.catch(() => {});
    return done;
  }
}

/** A push's fields of the timeline's reload event: its revision, author, and a rollback's revision. */
export function pushedFields(
  pushed: NonNullable<Caller['pushed']>,
): Pick<ReloadEvent, 'revision' | 'author' | 'rollback_of'> {
  const { revision, author, rollback_of } = pushed;
  return { revision, author, ...(rollback_of === undefined ? {} : { rollback_of }) };
}
