/**
 * A gateway's part in a config canary, in its cluster primary: the canary key followed; on a
 * canary gateway its revision applied, and the revision under the config key applied again when
 * it is rolled back; on every gateway, while it runs, the workers' counts of every attempt
 * written each half window under the gateway's lease (canaryCountsPrefix). One gateway judges:
 * the holder of canaryJudgeKey, bound to its lease, so the judging survives the pusher (who
 * may have gone) and moves to another gateway when the judge dies (its lease ends). It writes
 * each look's summary and, once, the verdict: a promotion writes the canary's document under the
 * config key in the same transaction, so every gateway takes it by the watch it already has.
 */
import type { Logger } from '../../observe/log/logger.ts';
import type { SideCounts } from '../../upstream/canary/canary-window.ts';
import { addSide, emptySide } from '../../upstream/canary/canary-window.ts';
import { type EtcdClient, EtcdError, type KeyValue } from '../../upstream/config-source/etcd-client.ts';
import { etcdTooLarge } from '../../upstream/config-source/etcd-transport.ts';
import { followKey } from '../../upstream/config-source/key-watch.ts';
import { CanaryJudge, type Decision } from './canary-judge.ts';
import {
  type Canary,
  type CanaryRecord,
  type CountsRecord,
  canaryCountsPrefix,
  canaryJudgeKey,
  canaryKey,
  canaryOf,
  type GatewayRecord,
  gatewaysPrefix,
  type PushRecord,
  pushKey,
  readJson,
} from './fleet-keys.ts';
import type { FleetSource } from './fleet-source.ts';

export class FleetCanary {
  readonly #source: FleetSource;
  readonly #client: EtcdClient;
  readonly #key: string;
  readonly #name: string;
  /** The workers' counts of every attempt since the last call (ClusterControl.gatewayCounts). */
  readonly #counts: () => Promise<SideCounts>;
  readonly #logger: Logger;
  #canary: Canary | undefined;
  /** This gateway's counts in the canary, since it began running its side's revision. */
  #total: { revision: number; counts: SideCounts } | undefined;
  #judge: CanaryJudge | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stopFollowing: (() => void) | undefined;
  #stopped = false;
  /**
   * The loops (counts, looks) whose last call failed: said once, and again-reachable once none
   * fails. One flag for both made a look etcd refused each window while the counts went on (a
   * record past its request bound) say "does not answer" and "answers again" every window.
   */
  #failing = new Set<'counts' | 'look'>();

  constructor(
    source: FleetSource,
    client: EtcdClient,
    key: string,
    name: string,
    counts: () => Promise<SideCounts>,
    logger: Logger,
  ) {
    this.#source = source;
    this.#client = client;
    this.#key = key;
    this.#name = name;
    this.#counts = counts;
    this.#logger = logger;
  }

  /** The canary as it is now, then every change of it. */
  start(): void {
    this.#client.range(canaryKey(this.#key)).then(
      (read) => {
        if (this.#stopped) return;
        this.#seen(read.kvs[0]);
        this.#follow(read.revision + 1);
      },
      // etcd away at start: the canary is followed from the next revision written.
      () => this.#follow(this.#source.revision + 1),
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#stopFollowing?.();
    this.#quiet();
  }

  #follow(from: number): void {
    if (this.#stopped) return;
    this.#stopFollowing = followKey(this.#client, canaryKey(this.#key), from, {
      onValue: (kv) => this.#seen(kv),
      // The config key's follower says when etcd is away; this one has nothing to add.
      onReachable: () => {},
    });
  }

  #seen(kv: KeyValue | undefined): void {
    const canary = canaryOf(kv);
    const before = this.#canary;
    this.#canary = canary;
    if (canary === undefined) return this.#quiet();
    const member = canary.gateways.includes(this.#name);
    if (canary.phase === 'running') {
      if (before?.revision !== canary.revision || before.phase !== 'running') this.#begin(canary);
      if (member) this.#takeIfNamed(canary);
      return;
    }
    this.#quiet();
    // Said once, as it ends (a gateway that starts later reads it in `candor fleet status`).
    if (before?.revision !== canary.revision || before.phase !== 'running') return;
    const line = `config canary revision ${canary.revision} ${canary.phase === 'promoted' ? 'promoted' : 'rolled back'}: ${canary.verdict ?? ''}`;
    const fields = {
      source: this.#key,
      canary: canary.revision,
      gateways: canary.gateways,
      phase: canary.phase,
    };
    if (canary.phase === 'promoted') this.#logger.info(fields, line);
    else this.#logger.warn(fields, line);
    if (member && canary.phase === 'rolled_back') this.#leave(canary, 250);
  }

  /**
   * The canary names this gateway's name: its revision is applied here if this gateway holds the
   * name (another of the same name, holding it, is the one the canary's pusher chose from the list).
   */
  #takeIfNamed(canary: Canary): void {
    this.#nameIsMine().then(
      (held) => {
        const now = this.#canary;
        if (held && !this.#stopped && now?.revision === canary.revision && now.phase === 'running')
          this.#source.takeCanary(canary);
      },
      () => {},
    );
  }

  /** Whether this gateway holds its name in the fleet's list (gateway-lease.ts); true before it has a lease. */
  #nameIsMine(): Promise<boolean> {
    return this.#source.lease?.nameIsMine() ?? Promise.resolve(true);
  }

  /**
   * Back from a rolled-back canary to the revision under the config key; etcd not answering,
   * tried again (doubling to 5 s) until it does: a canary gateway must not stay on it.
   */
  #leave(canary: Canary, wait: number): void {
    this.#source.leaveCanary(canary).catch((err: Error) => {
      if (wait === 250)
        this.#logger.error(
          { source: this.#key, canary: canary.revision, err: err.message },
          `config canary revision ${canary.revision} rolled back, but the config key could not be read to go back: ${err.message}; trying again`,
        );
      if (this.#stopped) return;
      setTimeout(() => this.#leave(canary, Math.min(2 * wait, 5_000)), wait).unref();
    });
  }

  /** A canary began: counts written each half window, a look (if this gateway judges) each window. */
  #begin(canary: Canary): void {
    this.#quiet();
    this.#total = undefined;
    this.#judge = undefined;
    // What the workers counted before it began is none of its business.
    this.#counts().catch(() => undefined);
    const every = (ms: number, loop: 'counts' | 'look', work: () => Promise<void>) => {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        work()
          .then(() => this.#answered(loop))
          .catch((err: Error) => this.#failed(loop, err))
          .finally(() => {
            busy = false;
          });
      }, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(Math.max(25, canary.window_ms / 2), 'counts', () => this.#writeCounts(canary));
    every(canary.window_ms, 'look', () => this.#look(canary));
  }

  #quiet(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    // A failure of this canary's calls is none of the next one's (no "answers again" there).
    this.#failing.clear();
  }

  /** The counts since the last call join this gateway's total while it runs its side's revision, and the total is written. */
  async #writeCounts(canary: Canary): Promise<void> {
    const taken = await this.#counts();
    // Another live gateway of this name counts under it: this one's counts would replace its.
    if (!(await this.#nameIsMine())) return;
    const revision = this.#source.revision;
    const wanted = canary.gateways.includes(this.#name) ? canary.revision : canary.from;
    // Counted only while it runs its side's revision; from zero when it begins to.
    if (revision !== wanted) return;
    if (this.#total?.revision !== revision) this.#total = { revision, counts: emptySide() };
    else addSide(this.#total.counts, taken);
    const lease = this.#source.lease;
    if (lease === undefined) return;
    const record: CountsRecord = {
      canary: canary.revision,
      gateway: this.#name,
      pid: process.pid,
      revision,
      total: this.#total.counts,
    };
    await lease.withLease((id) =>
      this.#client.put(`${canaryCountsPrefix(this.#key)}${this.#name}`, JSON.stringify(record), id),
    );
  }

  /** This gateway judges if it holds the judge's key (taken when free, bound to its lease). */
  async #leads(): Promise<boolean> {
    const lease = this.#source.lease;
    // The judge's key holds a name: two gateways of one name would each take it for theirs.
    if (lease === undefined || !(await lease.nameIsMine())) return false;
    const key = canaryJudgeKey(this.#key);
    return lease.withLease(async (id) => {
      const taken = await this.#client.putIf(
        [{ key, target: 'version', equals: 0 }],
        [{ key, value: this.#name, lease: id }],
        [key],
      );
      return taken.succeeded || taken.read[0]?.value === this.#name;
    });
  }

  async #look(canary: Canary): Promise<void> {
    if (!(await this.#leads())) {
      // Another gateway judges: if this one takes over later, it judges afresh from the totals then.
      this.#judge = undefined;
      return;
    }
    const [now, records, counts] = await Promise.all([
      this.#client.range(canaryKey(this.#key)),
      this.#client.range(gatewaysPrefix(this.#key), { prefix: true }),
      this.#client.range(canaryCountsPrefix(this.#key), { prefix: true }),
    ]);
    const current = canaryOf(now.kvs[0]);
    if (this.#stopped || current?.revision !== canary.revision || current.phase !== 'running') return;
    this.#judge ??= new CanaryJudge(current);
    const decision = this.#judge.look(
      current,
      records.kvs.flatMap((kv) => readJson<GatewayRecord>(kv.value) ?? []),
      counts.kvs.flatMap((kv) => readJson<CountsRecord>(kv.value) ?? []),
    );
    await this.#decided(current, decision);
  }

  /** A look's outcome written: its summary while the canary runs, its verdict once (over the record it was decided on). */
  async #decided(canary: Canary, decision: Decision): Promise<void> {
    if (decision.kind === 'wait') return;
    const { modRevision: _m, ...kept } = canary;
    const base: CanaryRecord = { ...kept, revision: canary.revision, judged_by: this.#name };
    if (decision.kind === 'looked') {
      const record: CanaryRecord = {
        ...base,
        look: decision.look,
        looks: decision.looks,
        verdict: null,
        last_look: decision.line,
      };
      await this.#client.putIf(
        [{ key: canaryKey(this.#key), target: 'mod', equals: canary.modRevision }],
        [{ key: canaryKey(this.#key), value: JSON.stringify(record) }],
        [],
      );
      return;
    }
    // An ended record leaves the document out (nothing reads it once the canary is over; a
    // promotion writes it under the key in the same request): with it, the verdict made the
    // record larger than the push's, and one of a document near etcd's request bound (1.5 MiB by
    // default) was refused as too large at every look, the canary running for good, rolled back
    // or promoted never, and every push refused meanwhile as a canary under way.
    const ended: CanaryRecord = {
      ...base,
      document: '',
      phase: decision.kind === 'promote' ? 'promoted' : 'rolled_back',
      verdict: decision.verdict,
      ...(decision.look === undefined ? {} : { look: decision.look, looks: decision.looks }),
      ended_at: new Date().toISOString(),
    };
    const record = { key: canaryKey(this.#key), value: JSON.stringify(ended) };
    const unchanged = { key: canaryKey(this.#key), target: 'mod', equals: canary.modRevision } as const;
    if (decision.kind === 'rollback') {
      await this.#client.putIf([unchanged], [record], []);
      return;
    }
    // Promoted: the document under the config key, if it is still the revision the canary was
    // pushed over, in the same revision as the verdict; else rolled back, saying why.
    const push: PushRecord = {
      author: canary.author,
      at: canary.at,
      from: canary.from,
      canary_of: canary.revision,
    };
    let promoted: Awaited<ReturnType<EtcdClient['putIf']>>;
    try {
      promoted = await this.#client.putIf(
        [unchanged, { key: this.#key, target: 'mod', equals: canary.from }],
        [
          { key: this.#key, value: canary.document },
          { key: pushKey(this.#key), value: JSON.stringify(push) },
          record,
        ],
        [this.#key],
      );
    } catch (err) {
      // The document, its push record and the verdict in one request, past etcd's bound where the
      // canary's own record was not: refused at every look, it ran for good. Rolled back, saying
      // so; a plain push (the document and a small record) is what etcd takes.
      if (!etcdTooLarge(err)) throw err;
      return this.#decided(canary, {
        kind: 'rollback',
        verdict: `not promoted: etcd refuses the promotion's write as too large (${err.message}): the document with its verdict is more than etcd takes in one request (its --max-request-bytes); push it without --canary`,
      });
    }
    if (promoted.succeeded) return;
    const moved = promoted.read[0]?.modRevision ?? 0;
    await this.#decided(canary, {
      kind: 'rollback',
      verdict: `${this.#key} moved under the canary (revision ${moved} written meanwhile, not by it): not promoted`,
    });
  }

  #answered(loop: 'counts' | 'look'): void {
    if (!this.#failing.delete(loop) || this.#failing.size > 0) return;
    this.#logger.info({ source: this.#key }, 'config canary: etcd answers again, counting and judging go on');
  }

  #failed(loop: 'counts' | 'look', err: Error): void {
    const said = this.#failing.size > 0;
    this.#failing.add(loop);
    if (said) return;
    // etcd answered, refusing (a permission, a request too large): not said as etcd away.
    const refused = err instanceof EtcdError && err.kind === 'refused';
    this.#logger.warn(
      { source: this.#key, canary: this.#canary?.revision, err: err.message },
      refused
        ? `config canary: etcd refuses this gateway's ${loop === 'look' ? 'look' : 'counts'} (${err.message}): tried again at each one (the other gateways keep their revision)`
        : 'config canary: etcd does not answer: counts and looks wait for it (the other gateways keep their revision)',
    );
  }
}
