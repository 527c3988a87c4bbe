import type { Worker } from 'node:cluster';
import type { SharedToWorker } from '../gateway/shared-protocol.ts';

/** A renewal's session kept for the workers that ask after it (as session-tokens.ts keeps it in one worker). */
const KEPT_MS = 30_000;
const MAX_KEPT = 10_000;
/**
 * A renewal under way longer than this is taken for lost (its outcome never told): the next
 * worker to ask renews. Past any provider's call (a route's `timeout`), so never one still running.
 */
const UNDER_WAY_MS = 120_000;

interface Lease {
  readonly owner: Worker;
  /** When the owner was told to renew (the primary's clock). */
  readonly since: number;
  readonly waiting: { readonly worker: Worker; readonly id: number }[];
  /** Set once the owner told it renewed: answered to the later askers until `until`. */
  session?: unknown;
  until?: number;
}

type Answer = Extract<SharedToWorker, { candor: 'renew-answer' }>;

/**
 * The primary's side of the OpenID Connect session renewals across workers (renewal-peers.ts):
 * the first worker to ask about a refresh token renews it; the others asking meanwhile wait for
 * its outcome, and those asking within 30 s after get its session, so the gateway spends each
 * refresh token once, as one worker does.
 */
export class RenewalLeases {
  readonly #leases = new Map<string, Lease>();

  ask(from: Worker, id: number, key: string, now: number): void {
    const lease = this.#leases.get(key);
    if (lease?.session !== undefined && (lease.until ?? 0) > now)
      return send(from, { candor: 'renew-answer', id, outcome: 'renewed', session: lease.session });
    if (
      lease !== undefined &&
      lease.session === undefined &&
      lease.owner.isConnected() &&
      now - lease.since < UNDER_WAY_MS
    ) {
      lease.waiting.push({ worker: from, id });
      return;
    }
    // Oldest first: those over (kept past 30 s, under way past UNDER_WAY_MS) go, and the oldest past MAX_KEPT.
    for (const [old, { until, since }] of this.#leases) {
      const over = until === undefined ? now - since >= UNDER_WAY_MS : until <= now;
      if (this.#leases.size < MAX_KEPT && !over) break;
      this.#leases.delete(old);
    }
    this.#leases.delete(key);
    this.#leases.set(key, { owner: from, since: now, waiting: [] });
    send(from, { candor: 'renew-answer', id, outcome: 'go' });
  }

  told(
    from: Worker,
    key: string,
    outcome: 'renewed' | 'refused' | 'failed',
    session: unknown,
    now: number,
  ): void {
    const lease = this.#leases.get(key);
    if (lease === undefined || lease.owner !== from || lease.session !== undefined) return;
    const answer =
      outcome === 'renewed'
        ? { outcome, session }
        : outcome === 'refused'
          ? { outcome }
          : { outcome: 'alone' as const };
    for (const { worker, id } of lease.waiting)
      send(worker, { candor: 'renew-answer', id, ...answer } as Answer);
    lease.waiting.length = 0;
    if (outcome === 'renewed') {
      lease.session = session;
      lease.until = now + KEPT_MS;
    } else this.#leases.delete(key);
  }

  /** A worker died: the renewals it had under way are for the waiting workers to make, each alone. */
  exited(worker: Worker): void {
    for (const [key, lease] of this.#leases)
      if (lease.owner === worker && lease.session === undefined) {
        for (const waiter of lease.waiting)
          send(waiter.worker, { candor: 'renew-answer', id: waiter.id, outcome: 'alone' });
        this.#leases.delete(key);
      }
  }
}

function send(worker: Worker, answer: Answer): void {
  if (worker.isConnected()) worker.send(answer);
}
