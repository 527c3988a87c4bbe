import type { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AcmeConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { AcmeFleet } from './acme-fleet.ts';
import { AcmeProblem } from './acme-problem.ts';
import type { AcmeStore } from './acme-store.ts';
import { type CaIssuers, untrustedChain } from './ca-issuers.ts';
import type { Managed } from './managed-name.ts';
import { renewalTime } from './renewal.ts';
import { servableCertificate } from './servable-certificate.ts';

/** How often a gateway that waits for another's order looks for its certificate. */
const FLEET_POLL_MS = 2_000;

/**
 * Whether this gateway orders `name` for the fleet (acme-fleet.ts): 'adopted' when `adopt`
 * takes another gateway's certificate (published before, or while this one waited for the
 * lock's holder); 'order' once this gateway holds the lock (for `lockMs`). Another gateway's
 * failed order is thrown as its problem, with its retry: the fleet's, not one order per gateway.
 */
export async function fleetTurn(
  fleet: AcmeFleet,
  name: string,
  when: { readonly deadline: number; readonly lockMs: number; readonly signal: AbortSignal },
  adopt: () => Promise<boolean>,
): Promise<'adopted' | 'order'> {
  for (;;) {
    when.signal.throwIfAborted();
    if (await adopt()) return 'adopted';
    const failed = await fleet.failure(name);
    if (failed !== undefined)
      throw new AcmeProblem(
        failed.type,
        `${failed.detail} (the fleet's last order, made by another gateway)`,
        0,
        [],
        failed.until - Date.now(),
      );
    if (await fleet.lock(name, when.lockMs)) return 'order';
    if (performance.now() + FLEET_POLL_MS > when.deadline)
      throw new AcmeProblem(
        'candor:fleet',
        `another gateway held the order of ${name} and published no certificate in time`,
        0,
      );
    await sleep(FLEET_POLL_MS, undefined, { signal: when.signal });
  }
}

/**
 * The fleet's certificate of `name` when it can serve the name (servable-certificate.ts), has
 * not ended and is what this gateway's own CA gives (`known`, ca-issuers.ts); `refused` says why
 * one there is not (its key is not its own, another name's, ended, not a chain and a key at all,
 * self-signed, another CA's, beginning in the future, longer than the CA gives: put there by
 * another hand). Redis's errors are thrown.
 */
export async function sharedCertificate(
  fleet: AcmeFleet,
  name: string,
  known: CaIssuers | undefined,
): Promise<{ chain: string; key: string; leaf: X509Certificate } | { refused: string } | undefined> {
  const shared = await fleet.certificate(name);
  if (shared === undefined) return undefined;
  if ('unusable' in shared) return { refused: shared.unusable };
  try {
    const leaf = servableCertificate(name, shared.chain, shared.key);
    if (Date.parse(leaf.validTo) <= Date.now()) return { refused: `it ended ${leaf.validTo}` };
    const untrusted = untrustedChain(shared.chain, known, Date.now());
    return untrusted === undefined ? { ...shared, leaf } : { refused: untrusted };
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

/** What adoptShared needs of the manager (acme-manager.ts). */
export interface AdoptionOwner {
  readonly config: AcmeConfig;
  readonly store: AcmeStore;
  readonly logger: Logger;
  /** Reads the name's certificate from the store into `managed`. */
  readStored(managed: Managed): void;
  /** It was taken: told to the processes that serve and to the metrics, its renewal planned. */
  taken(managed: Managed): void;
}

/**
 * Takes the fleet's certificate for `managed` when it can serve the name (servable-certificate.ts,
 * and not ended), is newer than the one held and is not due. One that cannot serve is refused,
 * said once, and this gateway keeps its own or orders one (publishing it over the bad one):
 * taken, it was saved over the good one on disk and served by no process, for good.
 */
export async function adoptShared(
  managed: Managed,
  fleet: AcmeFleet,
  owner: AdoptionOwner,
): Promise<boolean> {
  const shared = await sharedCertificate(fleet, managed.name, owner.store.issuers(owner.config.directory));
  if (shared === undefined) return false;
  if ('refused' in shared) {
    // Looked at again at each poll while another gateway orders: said once per refusal.
    if (managed.refusedShared !== shared.refused)
      owner.logger.error(
        { acme: managed.name, err: shared.refused },
        "the fleet's certificate cannot serve this name: refused, this gateway keeps or orders its own",
      );
    managed.refusedShared = shared.refused;
    return false;
  }
  managed.refusedShared = undefined;
  const cert = shared.leaf;
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (notAfter <= (managed.notAfter ?? 0)) return false;
  if (renewalTime(notBefore, notAfter, owner.config.renewBefore) <= Date.now()) return false;
  owner.store.saveCertificate(managed.name, shared.chain, shared.key);
  owner.readStored(managed);
  managed.renewedAt = Date.now();
  managed.failures = 0;
  managed.lastError = undefined;
  managed.ordering = false;
  owner.logger.info(
    { acme: managed.name, issuer: managed.issuer, not_after: new Date(notAfter).toISOString() },
    'certificate taken from the fleet',
  );
  owner.taken(managed);
  return true;
}
