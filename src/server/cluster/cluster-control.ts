import type { Worker } from 'node:cluster';
import { keptFieldLines } from '../../core/config/field-lines.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import type { RecordedEvent } from '../../observe/events/gateway-event.ts';
import type { ActivityReport } from '../../observe/metrics/activity.ts';
import type { PurgeScope } from '../../proxy/cache/route-caches.ts';
import type { SideCounts, WindowCounts } from '../../upstream/canary/canary-window.ts';
import type { CertificateStatus } from '../acme/acme-manager.ts';
import type { ToWorker } from '../gateway/ipc-protocol.ts';
import type { ChangeProblem, RuntimeChange, RuntimeChanges } from '../gateway/runtime-changes.ts';
import type {
  Announcement,
  DiscoveryReport,
  HealthVerdict,
  WorkerShare,
} from '../gateway/shared-protocol.ts';
import type { PurgeAnswer } from './cluster-purge.ts';
import { ClusterReloads } from './cluster-reloads.ts';
import type { Caller } from './reload-report.ts';
import type { MergedStatus } from './status-merge.ts';
import { WORKER_ANSWER_MS } from './worker-requests.ts';
import type { WorkerRestarting } from './workers.ts';

/**
 * What answers the admin API's questions and purges, loaded with the first: a primary that is
 * never asked (most are not) does without them and the canary windows' and statuses' merging
 * they bring, some 40 KB of source (test/server/cli/lean-processes.test.ts).
 */
const queries = () => import('./cluster-queries.ts');
const purges = () => import('./cluster-purge.ts');
/**
 * What checks and keeps the admin API's runtime changes (every default of the config with them,
 * defaults.ts), loaded with the first change: with what a reload runs (cluster-reloads.ts), some
 * 45 KB of source a primary never reloaded or changed does without
 * (test/server/cli/lean-processes.test.ts).
 */
const runtimeChanges = () => import('../gateway/runtime-changes.ts');

/**
 * The gateway as the cluster primary controls it: the config in force (read and validated
 * here, once, then sent to every worker), the runtime changes in force (replayed to a worker
 * started later), and a request/answer layer over each worker's IPC channel. The admin API
 * and SIGHUP call into it; nothing here touches a request.
 */
export class ClusterControl extends ClusterReloads {
  /** The runtime changes in force: none until the first (runtimeChanges). */
  #changes: RuntimeChanges | undefined;
  /** Some worker listens (the primary follows them): while none does, GET /ready says `starting`. */
  serving = false;
  /**
   * Where the config comes from, when not from the file alone (a fleet's etcd source: its
   * revision, whether etcd is reachable, its last refusal): GET /status shows it.
   */
  configSource: (() => unknown) | undefined;
  /** The fleet's live gateways (GET /fleet), when the config comes from etcd. */
  fleet: (() => Promise<unknown>) | undefined;
  /** Called after a runtime change was recorded (the primary's health checks skip a disabled target). */
  onChanged: (changes: RuntimeChanges) => void = () => {};
  /** What a worker starts with besides the config: its slice of the split limits and the health verdicts. */
  startWith: (worker: Worker) => {
    share: WorkerShare;
    health: HealthVerdict[];
    discovered?: DiscoveryReport[];
    breakers?: Announcement[];
  } = () => ({
    share: { index: 0, of: 1 },
    health: [],
  });

  get changes(): readonly RuntimeChange[] {
    return this.#changes?.list() ?? [];
  }

  /** The runtime changes a reload's config drops (their target or route left it), each said. */
  protected prunedChanges(next: GatewayConfig): readonly string[] {
    return this.#changes?.prune(this.withDiscovered(next)) ?? [];
  }

  /**
   * The ports the workers got for the listeners written on port 0, by name: a replacement asks
   * for the same (listen-options.ts), so the gateway stays where it said it listens.
   */
  announcedPorts: Record<string, number> = {};

  /** A new worker's first message: what every other worker runs now. */
  start(worker: Worker): void {
    const start: ToWorker = {
      candor: 'start',
      config: this.config,
      changes: this.changes,
      lines: keptFieldLines(this.config),
      ports: this.announcedPorts,
      ...this.startWith(worker),
    };
    worker.send(start);
  }

  /** Checks a runtime change against the running config and applies it in every worker. */
  change(
    change: RuntimeChange,
    caller: Caller,
  ): Promise<{ problem: ChangeProblem } | { confirmed: number[]; failed: { id: number; reason: string }[] }> {
    return this.serial(async () => {
      const { RuntimeChanges, timelineChange } = await runtimeChanges();
      const now = change.kind === 'split' ? this.#changes?.split(change.route) : undefined;
      const problem = RuntimeChanges.check(change, this.withDiscovered(this.config), now);
      if (problem) return { problem };
      this.#changes ??= new RuntimeChanges();
      this.#changes.record(change);
      this.onChanged(this.#changes);
      this.timeline.record({ kind: 'admin', who: caller.who, change: timelineChange(change) });
      const answers = await this.workers.askAll((id) => ({ candor: 'change', id, change }));
      const confirmed: number[] = [];
      const failed: { id: number; reason: string }[] = [];
      for (const { worker, answer } of answers) {
        if (answer?.candor === 'changed' && answer.error === undefined) confirmed.push(worker);
        else failed.push({ id: worker, reason: answer === undefined ? 'no answer' : 'refused' });
      }
      this.logger.info({ who: caller.who, change, workers: { confirmed, failed } }, 'admin change');
      return { confirmed, failed };
    });
  }

  /** The certificates the primary orders (automatic HTTPS), for /status; set by the primary. */
  certificates: () => readonly CertificateStatus[] | undefined = () => undefined;

  /**
   * Drops stored answers in every worker's route caches: all, one route's, or its keys under a
   * prefix. A route that is not in the config, or has no cache, is a problem named by its field.
   * `wait`: how long a worker that took the purge (in effect there) has to tell its count; one
   * still removing the files of a large cache.dir then is `under_way`, and its count is logged
   * when it comes (`admin purge finished`). `failed`: a worker that did not take it in time.
   */
  purge(scope: PurgeScope, caller: Caller, wait = WORKER_ANSWER_MS): Promise<PurgeAnswer> {
    return this.serial(async () =>
      (await purges()).purgeInWorkers(this.workers, this.config, this.logger, scope, caller, wait, () =>
        // On the deploy timeline once checked, as it is sent: in effect in each worker that takes it.
        this.timeline.record({
          kind: 'admin',
          who: caller.who,
          change: { kind: 'purge', route: scope.route ?? null, key: scope.key ?? null },
        }),
      ),
    );
  }

  /** The replacements of dead workers waiting out their backoff (workers.ts); set by the primary. */
  restarting: readonly WorkerRestarting[] = [];

  /** Every worker's status, merged (status-merge.ts), the replacements waiting and the certificates the primary orders. */
  async status(): Promise<MergedStatus> {
    const merged = await (await queries()).mergedStatus(this.workers, this.certificates);
    return { ...merged, workers_restarting: this.restarting };
  }

  /** Every worker's answers per second and latest failures, merged (activity.ts); and how many workers answered. */
  async activity(): Promise<ActivityReport & { readonly workers: { asked: number; answered: number } }> {
    return (await queries()).mergedActivity(this.workers);
  }

  /** The deploy timeline (GET /events): the primary's events and each worker's, merged (cluster-queries.ts). */
  async events(
    since?: number,
    after?: number,
  ): Promise<{ events: RecordedEvent[]; workers: { asked: number; answered: number } }> {
    return (await queries()).mergedEvents(this.workers, this.timeline, since, after);
  }

  /** A canary route's window from every worker (each starts a new one), merged; undefined when no worker has it. */
  async canaryWindow(route: string): Promise<WindowCounts | undefined> {
    return (await queries()).mergedCanaryWindow(this.workers, route);
  }

  /** Every worker's counts of every attempt since the last ask (each starts a new window), added up: a fleet's config canary. */
  async gatewayCounts(): Promise<SideCounts> {
    return (await queries()).addedGatewayCounts(this.workers);
  }
}
