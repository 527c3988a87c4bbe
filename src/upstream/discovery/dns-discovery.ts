import { Resolver } from 'node:dns/promises';
import type { DiscoveryConfig, TargetConfig } from '../../core/config/types.ts';
import { descriptorLimit, outOfDescriptors } from '../../core/failure/out-of-descriptors.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { askDns, type DnsAnswer, eachResolver, QUERY_OPTIONS } from './dns-answer.ts';
import { afterAnswer, afterFailure } from './question-schedule.ts';
import { createTargetCheck, type GatewayListener, type TargetCheck } from './refused-targets.ts';

/** Left-out records named in one log line at most (the line gives the count of them all). */
const MAX_NAMED_RECORDS = 10;

/**
 * An upstream's discovered targets as its owner and /status see them. Plain JSON: the cluster
 * primary sends it to its workers as is. Times are wall-clock ISO strings.
 */
export interface DiscoveryReport {
  readonly upstream: string;
  /** The last good answer's targets (empty before the first one). */
  readonly targets: readonly TargetConfig[];
  /** When the set last changed (the first answer included); null: no answer yet. */
  readonly changed_at: string | null;
  /** When the last good answer came. */
  readonly resolved_at: string | null;
  /** The failure of the latest question while the last good set is kept ("empty" or the resolver's code); null: it answered. */
  readonly failure: string | null;
}

/** What the latest question did: the set changed, the same set came back, or it failed (`empty`: no record). */
export type DiscoveryOutcome = 'changed' | 'same' | 'error' | 'empty';

export type OnDiscovery = (report: DiscoveryReport, outcome: DiscoveryOutcome) => void;

/**
 * Follows one upstream's DNS name: asks, hands each outcome to `onReport`, and asks again
 * when the answer's TTL runs out (held between `min_ttl` and `max_ttl`), every `interval`
 * for an answer that carries no TTL (SRV), and after a failure `interval` doubled at each
 * failure in a row up to `max_ttl` (question-schedule.ts: each delay spread, so that gateways
 * started together do not ask in step). A failed or empty answer never empties the upstream:
 * the last good set is kept (a `warn` line when it starts failing and when its reason changes,
 * an `info` line when it answers again; each failure is an outcome the owner counts).
 */
export class DnsDiscovery {
  readonly #upstream: string;
  readonly config: DiscoveryConfig;
  readonly #logger: Logger;
  readonly #onReport: OnDiscovery;
  readonly #resolver: Resolver;
  /** One resolver on each of two or more `resolvers`: asked in turn at a SERVFAIL or REFUSED. */
  readonly #next: readonly Resolver[];
  readonly #check: TargetCheck;
  #report: DiscoveryReport;
  /** What the last answer left out, as logged: a line is written when it changes, not at every question. */
  #leftOut = '';
  /**
   * The failure this runner's last `warn` line told, while it lasts (null: none told): not the
   * kept report's `failure`, which a reload's runner inherits from a question it never asked
   * (another name, other resolvers) and would otherwise keep its own failures unlogged.
   */
  #toldFailure: string | null = null;
  /** Failed or empty answers in a row: what the backoff doubles on (a reload's runner starts at 0). */
  #failures = 0;
  /**
   * The failed questions in a row of the runner this one replaced, when it asked the same name
   * (same `dns` and `type`): told with this runner's first answer. Undefined when it asked
   * another name (a reload that moved `discovery` to a new one): that name's failures are not
   * this one's, and its first answer is no recovery ("answering again" with 0 failed questions).
   */
  #keptFailures: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #nextIn: number | undefined;
  #stopped = false;

  /**
   * `own`: the gateway's listeners an answer may not point at (its admin API). `kept`: the
   * report of the runner this one replaces (a reload), whose set stands until this one's
   * first answer. `keptFailures`: that runner's failed questions in a row, when it asked the same
   * name (see #keptFailures).
   */
  constructor(
    upstream: string,
    config: DiscoveryConfig,
    logger: Logger,
    onReport: OnDiscovery,
    own: readonly GatewayListener[] = [],
    kept?: DiscoveryReport,
    keptFailures?: number,
  ) {
    this.#upstream = upstream;
    this.config = config;
    this.#logger = logger;
    this.#onReport = onReport;
    this.#resolver = new Resolver(QUERY_OPTIONS);
    this.#check = createTargetCheck(config.allow, own);
    if (config.resolvers.length > 0) this.#resolver.setServers([...config.resolvers]);
    // The system's servers (/etc/resolv.conf) too: glibc's resolver moves on at a SERVFAIL.
    this.#next = eachResolver(this.#resolver.getServers());
    this.#keptFailures = keptFailures;
    this.#report = kept ?? {
      upstream,
      targets: [],
      changed_at: null,
      resolved_at: null,
      failure: null,
    };
    void this.#ask();
  }

  get report(): DiscoveryReport {
    return this.#report;
  }

  /** The wait before the question now scheduled (ms; undefined before the first outcome): a test reads the schedule here, never on a clock. */
  get nextQuestionIn(): number | undefined {
    return this.#nextIn;
  }

  /** Failed or empty answers in a row (0 after an answer), this runner's and the same name's before it. */
  get failedInARow(): number {
    return this.#failures + (this.#keptFailures ?? 0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#resolver.cancel();
    for (const resolver of this.#next) resolver.cancel();
  }

  async #ask(): Promise<void> {
    const { dns, type } = this.config;
    let next: number;
    let outcome: DiscoveryOutcome;
    try {
      const answer = await askDns(this.#resolver, this.config, this.#check, this.#next);
      if (this.#stopped) return;
      this.#logLeftOut(answer);
      const now = new Date().toISOString();
      const before = this.#report;
      if (answer.targets.length === 0 && answer.refused.length > 0)
        throw Object.assign(new Error('no usable record'), { code: 'EBADRECORD' });
      if (answer.targets.length === 0) throw Object.assign(new Error('no records'), { code: 'ENODATA' });
      const changed = key(answer.targets) !== key(before.targets) || before.changed_at === null;
      outcome = changed ? 'changed' : 'same';
      // Its own question failing, or the same name's failing under the runner it replaced: not a
      // failure inherited from another name, which this name never had.
      if (before.failure !== null && (this.#failures > 0 || this.#keptFailures !== undefined))
        this.#logger.info(
          {
            upstream: this.#upstream,
            dns,
            type,
            failed_questions: this.#failures + (this.#keptFailures ?? 0),
          },
          'discovery answering again',
        );
      if (changed) {
        const was = new Set(before.targets.map((t) => t.origin));
        const is = new Set(answer.targets.map((t) => t.origin));
        this.#logger.info(
          {
            upstream: this.#upstream,
            dns,
            type,
            targets: answer.targets.map((t) => t.url),
            added: answer.targets.filter((t) => !was.has(t.origin)).map((t) => t.url),
            removed: before.targets.filter((t) => !is.has(t.origin)).map((t) => t.url),
            ttl: answer.ttl ?? null,
          },
          'discovered targets changed',
        );
      }
      this.#report = {
        upstream: this.#upstream,
        targets: answer.targets,
        changed_at: changed ? now : before.changed_at,
        resolved_at: now,
        failure: null,
      };
      this.#toldFailure = null;
      this.#failures = 0;
      this.#keptFailures = undefined;
      next = afterAnswer(this.config, answer.ttl);
    } catch (err) {
      if (this.#stopped) return;
      let code = (err as { code?: string }).code ?? 'error';
      let said = (err as Error).message;
      // The process out of descriptors: c-ares, with no socket for its question, says
      // ECONNREFUSED, which reads as the DNS server refusing. The gateway's own want, told so.
      const want = outOfDescriptors();
      if (want !== undefined && code !== 'ENODATA') {
        said = `no file descriptor left for the DNS question (${descriptorLimit(want)}; the resolver said ${code})`;
        code = want;
      }
      outcome = code === 'ENODATA' ? 'empty' : 'error';
      const failure = outcome === 'empty' ? 'empty' : code;
      // Told when it starts and when its reason changes (NXDOMAIN, then timeouts: the resolver
      // itself went), not at every question.
      if (failure !== this.#toldFailure)
        this.#logger.warn(
          {
            upstream: this.#upstream,
            dns,
            type,
            failure,
            was: this.#toldFailure,
            err: said,
            kept: this.#report.targets.map((t) => t.url),
          },
          'discovery failed: the last good targets are kept',
        );
      this.#report = { ...this.#report, failure };
      this.#toldFailure = failure;
      this.#failures++;
      next = afterFailure(this.config, this.#failures);
    }
    // Scheduled before the owner hears: an owner that stops the runner then clears this timer.
    this.#nextIn = next;
    this.#timer = setTimeout(() => void this.#ask(), next).unref();
    this.#onReport(this.#report, outcome);
  }

  /** A `warn` line naming the records an answer left out, when they differ from the last answer's. */
  #logLeftOut(answer: DnsAnswer): void {
    const leftOut = `${answer.refused.map((r) => `${r.record} ${r.why}`).join('|')}#${answer.cut}`;
    if (leftOut === this.#leftOut) return;
    this.#leftOut = leftOut;
    if (answer.refused.length === 0 && answer.cut === 0) return;
    this.#logger.warn(
      {
        upstream: this.#upstream,
        dns: this.config.dns,
        type: this.config.type,
        refused: answer.refused.slice(0, MAX_NAMED_RECORDS),
        refused_count: answer.refused.length,
        cut: answer.cut,
        max_targets: this.config.maxTargets,
      },
      'discovery left records out: the others are used',
    );
  }
}

/**
 * What makes two answers one set: each target's origin, weight and priority. The priority too:
 * an SRV answer that swaps two records' priorities (a failover done in DNS) changes nothing
 * else, and read as the same set it was never applied.
 */
function key(targets: readonly TargetConfig[]): string {
  return targets.map((t) => `${t.origin} ${t.weight} ${t.priority}`).join(' ');
}
