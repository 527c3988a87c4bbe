import type { Logger } from '../../observe/log/logger.ts';

/**
 * Each name the manager orders (acme-manager.ts), as it holds it: the certificate served, its
 * schedule, its failures, and what is said of it (/status, the warnings of the log).
 */
/** One name's certificate as /status and the status page show it. */
export interface CertificateStatus {
  readonly names: readonly string[];
  /** valid: served and not due; ordering: an order under way; expired: past not_after (served, loudly, even while ordered). */
  readonly state: 'valid' | 'ordering' | 'missing' | 'expired';
  readonly issuer?: string;
  readonly not_after?: string;
  /** When it will be ordered next (its renewal, or the retry after a failure). */
  readonly next_renewal?: string;
  readonly last_error?: { readonly type: string; readonly detail: string; readonly at: string };
  /** Failed orders in a row. */
  readonly failures: number;
}

export interface Managed {
  readonly name: string;
  /** The ARI identifier of the certificate held (RFC 9773), when it has one. */
  certificateId?: string;
  /** The CA's suggested renewal window for it, when the CA offers ARI. */
  window?: { start: number; end: number };
  ariTimer?: NodeJS.Timeout;
  /** When this gateway last ordered or took it (Date.now()): no renewal comes sooner than an hour after. */
  renewedAt?: number;
  notBefore?: number;
  notAfter?: number;
  issuer?: string;
  next?: number;
  timer?: NodeJS.Timeout;
  ordering: boolean;
  failures: number;
  lastError?: { type: string; detail: string; at: string };
  /** Why the fleet's certificate was last refused (told once, not at each look). */
  refusedShared?: string;
  /**
   * A certificate the CA issued that acme.storage could not keep (a full disk, a folder turned
   * read-only): stored at the next try instead of another order, which a CA counts (Let's
   * Encrypt's five duplicate certificates a week) whether or not the gateway could keep it.
   */
  unstored?: { readonly chain: string; readonly keyPem: string };
}

/**
 * The names a managed name's certificate carries: a wildcard's names its apex too, one
 * certificate for `*.example.com` and `example.com` (the apex is what the wildcard does not
 * cover, and is nearly always wanted beside it: automatic-https.ts folds it in when listed).
 */
export function certificateNames(name: string): string[] {
  return name.startsWith('*.') ? [name, name.slice(2)] : [name];
}

/** What /status says of a name: expired first, for while its renewal is under way it is still what clients get. */
export function certificateStatusOf(m: Managed, now: number): CertificateStatus {
  return {
    names: certificateNames(m.name),
    state:
      m.notAfter !== undefined && m.notAfter <= now
        ? 'expired'
        : m.ordering
          ? 'ordering'
          : m.notAfter === undefined
            ? 'missing'
            : 'valid',
    ...(m.issuer === undefined ? {} : { issuer: m.issuer }),
    ...(m.notAfter === undefined ? {} : { not_after: new Date(m.notAfter).toISOString() }),
    ...(m.next === undefined ? {} : { next_renewal: new Date(m.next).toISOString() }),
    ...(m.lastError === undefined ? {} : { last_error: m.lastError }),
    failures: m.failures,
  };
}

/**
 * A renew_before not shorter than what the CA issues makes every new certificate due at once:
 * renewed every hour (the manager's least gap; a third of the lifetime when shorter), an order the CA counts each time. Said, not silent.
 */
export function warnRenewingAtOnce(logger: Logger, managed: Managed, renewBefore: number | undefined): void {
  const lifetime = (managed.notAfter ?? 0) - (managed.notBefore ?? 0);
  if (renewBefore === undefined || renewBefore < lifetime) return;
  logger.warn(
    {
      acme: managed.name,
      renew_before_s: Math.round(renewBefore / 1000),
      lifetime_s: Math.round(lifetime / 1000),
    },
    "acme.renew_before is not shorter than the certificate's lifetime: it is renewed every hour (every third of its lifetime, when shorter), each an order the CA counts (Let's Encrypt allows 5 of one name a week); set it below the lifetime",
  );
}

/** Every name whose certificate ended, told again each time (the manager does it every minute). */
export function warnExpired(logger: Logger, managed: Iterable<Managed>): void {
  const now = Date.now();
  for (const m of managed)
    if (m.notAfter !== undefined && m.notAfter <= now)
      logger.error(
        { acme: m.name, not_after: new Date(m.notAfter).toISOString(), last_error: m.lastError?.type },
        'certificate EXPIRED and still served: clients refuse it; see last_error and candor diagnose --acme',
      );
}
