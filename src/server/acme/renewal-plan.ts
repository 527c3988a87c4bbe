import type { AcmeConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { OrderingAccount } from './acme-account.ts';
import type { Managed } from './managed-name.ts';
import { renewalTime } from './renewal.ts';

/** How often the CA's renewal window is asked again, when it does not say (RFC 9773 §4.3), and the bounds of what it may say. */
const ARI_DEFAULT_RETRY_MS = 6 * 3_600_000;
const ARI_MIN_RETRY_MS = 60_000;
const ARI_MAX_RETRY_MS = 24 * 3_600_000;
/** The least time between two renewals of one name (a third of its lifetime, when that is shorter). */
const MIN_RENEWAL_GAP_MS = 3_600_000;
/** setTimeout's longest wait; a renewal further off is re-planned when it ends. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the plan needs of the manager (acme-manager.ts). */
export interface RenewalPlanOwner {
  readonly config: AcmeConfig;
  readonly account: OrderingAccount;
  readonly logger: Logger;
  /** The manager stopped: nothing more is asked nor planned. */
  stopped(): boolean;
  /** `managed` is due: ordered now. */
  due(managed: Managed): void;
}

/**
 * When each name of the manager is ordered next: its renewal (renewal.ts, moved by the CA's
 * renewal window when it offers ACME Renewal Information), or the retry after a failure, on a
 * timer per name that tells the manager when it is due.
 */
export class RenewalPlan {
  readonly #owner: RenewalPlanOwner;

  constructor(owner: RenewalPlanOwner) {
    this.#owner = owner;
  }

  renewalOf(managed: Managed): number {
    const at = renewalTime(
      managed.notBefore ?? 0,
      managed.notAfter ?? 0,
      this.#owner.config.renewBefore,
      managed.window,
    );
    // A CA whose window stays in the past, or a renew_before longer than the lifetime, must not
    // make an order loop: one renewal an hour at most. A certificate that lives less (a CA of
    // short-lived ones: pebble's, step-ca's set so) three a lifetime at most, or each of them
    // ended unrenewed, served expired until the hour was out.
    if (managed.renewedAt === undefined) return at;
    const lifetime = (managed.notAfter ?? 0) - (managed.notBefore ?? 0);
    return Math.max(at, managed.renewedAt + Math.min(MIN_RENEWAL_GAP_MS, lifetime / 3));
  }

  /**
   * ACME Renewal Information (RFC 9773): where the CA offers it, its window decides the renewal
   * (a window moved into the past, say before a mass revocation, renews at once), asked again
   * when its Retry-After says (6 hours when it says nothing). A CA without it, or that fails to
   * answer, leaves the renewal at two thirds of the lifetime.
   */
  async askRenewalInfo(managed: Managed): Promise<void> {
    clearTimeout(managed.ariTimer);
    const id = managed.certificateId;
    if (id === undefined || this.#owner.stopped()) return;
    let again = ARI_DEFAULT_RETRY_MS;
    try {
      const info = await this.#owner.account.client().renewalInfo(id);
      if (info === undefined || this.#owner.stopped() || managed.certificateId !== id) return;
      managed.window = { start: info.start, end: info.end };
      again = Math.min(ARI_MAX_RETRY_MS, Math.max(ARI_MIN_RETRY_MS, info.retryAfter ?? ARI_DEFAULT_RETRY_MS));
      // After a failed order its retry stands: the backoff, or the CA's Retry-After (a rate limit).
      if (!managed.ordering && managed.failures === 0) this.plan(managed, this.renewalOf(managed));
    } catch (err) {
      if (this.#owner.stopped()) return;
      this.#owner.logger.warn(
        { acme: managed.name, err: (err as Error).message },
        'the CA did not say when to renew (ACME Renewal Information): renewing on the default schedule',
      );
    }
    managed.ariTimer = setTimeout(() => void this.askRenewalInfo(managed), again).unref();
  }

  /** Orders `managed` at `at` (now or in the past: at once). */
  plan(managed: Managed, at: number): void {
    clearTimeout(managed.timer);
    managed.next = at;
    const wait = at - Date.now();
    if (wait <= 0) return this.#owner.due(managed);
    managed.timer = setTimeout(
      () => (wait > MAX_TIMER_MS ? this.plan(managed, at) : this.#owner.due(managed)),
      Math.min(wait, MAX_TIMER_MS),
    ).unref();
  }

  /** A certificate landed (ordered or taken): its renewal planned, and the CA asked for its window. */
  renewed(managed: Managed): void {
    this.plan(managed, this.renewalOf(managed));
    void this.askRenewalInfo(managed);
  }

  /** Nothing more planned nor asked for `managed`. */
  stop(managed: Managed): void {
    clearTimeout(managed.timer);
    clearTimeout(managed.ariTimer);
  }
}
