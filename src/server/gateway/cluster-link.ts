import type { AcmeOrderOutcome } from '../../observe/metrics/metrics.ts';
import type { PeerRenewal, RenewalOutcome, RenewalPeers } from '../../proxy/admit/oidc/renewal-peers.ts';
import type { Session } from '../../proxy/admit/oidc/session.ts';
import type { CacheNews } from '../../proxy/cache/invalidation.ts';
import type { DiscoveryOutcome } from '../../upstream/discovery/dns-discovery.ts';
import type { Announcement, ReturnNews } from '../../upstream/health/report-outcome.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import {
  type DiscoveryReport,
  type EarlyCount,
  type HealthVerdict,
  isSharedToWorker,
  type SharedFromWorker,
  type WorkerShare,
} from './shared-protocol.ts';

/**
 * How long a worker waits for the primary's answer on a rate-limited request before it
 * decides alone, on its share of the limit (see RemoteRateLimits): a primary that is busy or
 * gone must not hold requests, and 50 ms is far above the ~0.1 ms an answer takes.
 */
const RATE_ANSWER_MS = 50;

/**
 * Rate questions handed to the channel and not yet written to the primary, at most. A primary
 * that reads nothing (stopped, or stalled on a long task) let every question of a rate-limited
 * request wait in this worker's memory for as long as it lasted, and once back took a token for
 * each, though the worker had decided them alone: its buckets were emptied for requests that
 * never drew on them. Past the bound the worker decides alone at once and sends nothing.
 */
const MAX_UNWRITTEN_ASKS = 256;

export type { Announcement, ReturnNews } from '../../upstream/health/report-outcome.ts';

/**
 * A cluster worker's end of the shared limits (shared-protocol.ts): its share of the split
 * limits, the primary's health verdicts (kept, so a runtime built later starts on them), the
 * rate question, and the announcements of ejections and open circuits both ways. In-process
 * gateways have none, and keep every limit and check to themselves.
 */
export class ClusterLink implements RenewalPeers {
  readonly share: WorkerShare;
  /** The latest verdict of every target the primary checks, by `upstream origin`. */
  readonly #verdicts = new Map<string, HealthVerdict>();
  readonly #asked = new Map<number, (wait: number | undefined) => void>();
  readonly #renewAsked = new Map<number, (answer: PeerRenewal) => void>();
  #nextId = 1;
  /** Rate questions not yet written to the channel (their send's callback not called). */
  #unwritten = 0;
  readonly #written = (): void => {
    this.#unwritten--;
  };
  /** Set by the gateway: apply verdicts (`count`: this worker counts the probes) and announcements. */
  onHealth: (verdicts: readonly HealthVerdict[], count: boolean) => void = () => {};
  onAnnouncement: (news: Announcement) => void = () => {};
  /** Set by the gateway: the runtime new requests get now (a reload swaps it), to tell a snapshot's news still the gateway's. */
  current: () => { readonly upstreams: ReadonlyMap<string, Upstream> } | undefined = () => undefined;
  /** Set by the gateway: another worker's unsafe request invalidated these keys of a route's store. */
  onCacheNews: (news: CacheNews) => void = () => {};
  /** Set by the gateway: a DNS answer of the primary's (`count`: this worker counts it). */
  onDiscovery: (report: DiscoveryReport, outcome: DiscoveryOutcome, count: boolean) => void = () => {};
  /** Set by the gateway: the primary ordered a certificate (automatic HTTPS) and stored it. */
  onAcmeIssued: (name: string) => void = () => {};
  /** Set by the gateway: an order of the primary's ended, and this worker counts it. */
  onAcmeOrdered: (outcome: AcmeOrderOutcome) => void = () => {};
  /** Set by the gateway: what the primary found before any worker served, which this worker counts. */
  onEarlyCounts: (counts: readonly EarlyCount[]) => void = () => {};
  /** Set by the gateway: an ejection this worker ended was the first return of it, and this worker counts it. */
  onReturnCounted: (news: Omit<ReturnNews, 'candor'>) => void = () => {};
  /** The primary's latest DNS answer per upstream, kept (as the verdicts are) for a gateway that starts later. */
  readonly #discovered = new Map<string, DiscoveryReport>();

  /**
   * The circuits open and the targets ejected when this worker started, until its first runtime
   * takes them (startBreakers): deadlines on this process's clock, kept up to date by the news
   * that comes meanwhile (a circuit closed elsewhere before the runtime was built stays closed).
   */
  #startBreakers: Map<string, { news: Announcement; until: number }> | undefined;

  constructor(
    share: WorkerShare,
    verdicts: readonly HealthVerdict[],
    discovered: readonly DiscoveryReport[] = [],
    breakers: readonly Announcement[] = [],
  ) {
    this.share = share;
    const now = performance.now();
    this.#startBreakers = new Map();
    for (const news of breakers) this.#keepBreaker(news, now);
    for (const report of discovered) this.#discovered.set(report.upstream, report);
    for (const v of verdicts) this.#verdicts.set(key(v.upstream, v.origin), v);
    process.on('message', this.#onMessage);
  }

  /**
   * The circuits open and the targets ejected elsewhere when this worker started (and since), each
   * with the ms it has left: for the first runtime alone (a later one carries its own state).
   */
  startBreakers(now: number): Announcement[] {
    const kept = this.#startBreakers;
    this.#startBreakers = undefined;
    const news: Announcement[] = [];
    for (const { news: one, until } of kept?.values() ?? []) {
      if (one.candor === 'circuit-closed') continue;
      // An opening's failure is older by the time since the news came (until − forMs).
      const failure =
        one.candor === 'circuit-opened' && one.failure !== undefined
          ? { failure: { ...one.failure, ageMs: one.failure.ageMs + now - (until - one.forMs) } }
          : {};
      // A time run out still says half-open (OpenBreakers.now): 0 ms left, not forgotten.
      news.push({ ...one, forMs: Math.max(0, until - now), ...failure });
    }
    return news;
  }

  #keepBreaker(news: Announcement, now: number): void {
    const key = news.candor === 'ejected' ? `${news.upstream} ${news.origin}` : news.upstream;
    if (news.candor === 'circuit-closed') this.#startBreakers?.delete(key);
    else this.#startBreakers?.set(key, { news, until: now + news.forMs });
  }

  /** The primary's latest DNS answers. */
  discovered(): readonly DiscoveryReport[] {
    return [...this.#discovered.values()];
  }

  /** The primary's verdict on a target, if it has one. */
  verdict(upstream: string, origin: string): HealthVerdict | undefined {
    return this.#verdicts.get(key(upstream, origin));
  }

  /** Seconds to wait (0: pass) from the gateway-wide bucket, or undefined when the primary did not answer in time. */
  askRate(route: string, bucketKey: string): Promise<number | undefined> {
    if (this.#unwritten >= MAX_UNWRITTEN_ASKS || process.send === undefined || !process.connected)
      return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#asked.delete(id);
        resolve(undefined);
      }, RATE_ANSWER_MS);
      this.#asked.set(id, (wait) => {
        clearTimeout(timer);
        resolve(wait);
      });
      // Its deadline on the host's clock (Date.now(), which the primary reads too): a question the
      // primary reads after this worker decided alone would take a second token for that request.
      const ask: SharedFromWorker = {
        candor: 'rate-ask',
        id,
        route,
        key: bucketKey,
        until: Date.now() + RATE_ANSWER_MS,
      };
      this.#unwritten++;
      process.send?.(ask, undefined, undefined, this.#written);
    });
  }

  /**
   * Whether this worker renews the session of a refresh token (`key`: its SHA-256) for the
   * gateway, or another did or does (renewal-peers.ts); undefined without an answer in `waitMs`.
   */
  askRenewal(key: string, waitMs: number): Promise<PeerRenewal | undefined> {
    if (process.send === undefined || !process.connected) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#renewAsked.delete(id);
        resolve(undefined);
      }, waitMs);
      this.#renewAsked.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.#send({ candor: 'renew-ask', id, key });
    });
  }

  /** How the renewal this worker was told to make ended, for the workers waiting on it. */
  tellRenewed(key: string, outcome: RenewalOutcome, session: Session | undefined): void {
    this.#send({ candor: 'renewed', key, outcome, ...(session === undefined ? {} : { session }) });
  }

  /** Tells the primary, for the other workers, of an ejection, an open circuit or an invalidation here; or, for itself, of a return. */
  announce(news: Announcement | ReturnNews | CacheNews): void {
    this.#send(news);
  }

  close(): void {
    process.off('message', this.#onMessage);
  }

  #send(message: SharedFromWorker): boolean {
    if (process.send === undefined || !process.connected) return false;
    process.send(message);
    return true;
  }

  readonly #onMessage = (message: unknown): void => {
    if (!isSharedToWorker(message)) return;
    switch (message.candor) {
      case 'rate-answer': {
        const resolve = this.#asked.get(message.id);
        this.#asked.delete(message.id);
        resolve?.(message.wait);
        return;
      }
      case 'renew-answer': {
        const resolve = this.#renewAsked.get(message.id);
        this.#renewAsked.delete(message.id);
        resolve?.(
          message.outcome === 'renewed'
            ? { outcome: 'renewed', session: message.session as Session }
            : { outcome: message.outcome },
        );
        return;
      }
      case 'discovery':
        this.#discovered.set(message.report.upstream, message.report);
        this.onDiscovery(message.report, message.outcome, message.count);
        return;
      case 'acme-issued':
        this.onAcmeIssued(message.name);
        return;
      case 'acme-ordered':
        this.onAcmeOrdered(message.outcome);
        return;
      case 'return-counted':
        this.onReturnCounted(message);
        return;
      case 'early-counts':
        this.onEarlyCounts(message.counts);
        return;
      case 'cache-invalidated':
      case 'cache-stored':
        this.onCacheNews(message);
        return;
      case 'health':
        for (const v of message.verdicts) this.#verdicts.set(key(v.upstream, v.origin), v);
        this.onHealth(message.verdicts, message.count);
        return;
      default:
        if (this.#startBreakers !== undefined) this.#keepBreaker(message, performance.now());
        this.onAnnouncement(message);
    }
  };
}

function key(upstream: string, origin: string): string {
  return `${upstream} ${origin}`;
}
