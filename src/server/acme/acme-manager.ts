import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { AcmeConfig } from '../../core/config/types.ts';
import { certificateId } from '../../core/tls/certificate-id.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { AcmeOrderOutcome } from '../../observe/metrics/metrics.ts';
import { challengeSolver, OrderingAccount } from './acme-account.ts';
import type { AcmeFleet } from './acme-fleet.ts';
import { orderCertificate, orderWindowMs } from './acme-order.ts';
import { AcmeProblem, problemLabel, problemOf } from './acme-problem.ts';
import type { AcmeStore, StoredFailure } from './acme-store.ts';
import { learnIssuers } from './ca-issuers.ts';
import { Dns01Solver, forgetLeftovers } from './dns01-solver.ts';
import { type AdoptionOwner, adoptShared, fleetTurn } from './fleet-turn.ts';
import {
  type CertificateStatus,
  certificateNames,
  certificateStatusOf,
  type Managed,
  warnExpired,
  warnRenewingAtOnce,
} from './managed-name.ts';
import { MAX_RETRY_MS, retryDelay } from './renewal.ts';
import { RenewalPlan } from './renewal-plan.ts';
import { tidyStore } from './store-tidy.ts';

export type { CertificateStatus } from './managed-name.ts';

/** What the manager tells its owner. */
export interface AcmeManagerOwner {
  /** A certificate landed in the store (ordered, or taken from the fleet): serve it. */
  issued(name: string): void;
  /** An order of this gateway's ended, either way, or the fleet's certificate was taken instead (`adopted`). */
  ordered(outcome: AcmeOrderOutcome): void;
}

/** How often an expired certificate is told again. */
const EXPIRED_WARNING_MS = 60_000;

/**
 * Automatic HTTPS for one gateway: every name of `listen[].tls.acme.names` has a certificate
 * from the `acme` CA, kept in the store, renewed before it ends. At start a name with a stored
 * certificate that is not due orders nothing; one without is ordered at once. Orders run one
 * at a time (a CA counts them); a failed one is logged with the CA's problem document and tried
 * again later, backing off (renewal.ts). `issued(name)` tells the processes that serve TLS to
 * read the new certificate. It runs in one process per gateway: the in-process gateway, or
 * the cluster's primary.
 */
export class AcmeManager {
  readonly #config: AcmeConfig;
  /** The `acme` config's fingerprint, kept with a failed order: the same config's next start waits out its backoff. */
  readonly #configPrint: string;
  readonly #store: AcmeStore;
  readonly #logger: Logger;
  readonly #owner: AcmeManagerOwner;
  readonly #managed = new Map<string, Managed>();
  readonly #queue: Managed[] = [];
  readonly #account: OrderingAccount;
  /** When each name is ordered next (renewal-plan.ts). */
  readonly #renewals: RenewalPlan;
  /** What taking the fleet's certificate needs of this manager (fleet-turn.ts). */
  readonly #adoption: AdoptionOwner;
  #running = false;
  #stopped = false;
  /** Aborted by stop(): an order or a question to the CA under way ends there. */
  readonly #stopping = new AbortController();
  #expiredTimer: NodeJS.Timeout | undefined;
  /** With `store.redis`: the fleet's lock, its certificates and challenges (acme-fleet.ts). */
  readonly #fleet: Promise<AcmeFleet | undefined> | undefined;
  /** With `acme.dns01`: what writes and removes the TXT records (dns01-solver.ts). */
  readonly #dns01: Dns01Solver | undefined;

  constructor(
    config: AcmeConfig,
    names: Iterable<string>,
    store: AcmeStore,
    logger: Logger,
    owner: AcmeManagerOwner,
    fleet?: Promise<AcmeFleet | undefined>,
  ) {
    this.#fleet = fleet;
    this.#config = config;
    // The TSIG secret is the config's too, though in the environment: a BADSIG is mended there
    // alone, and a restart with it mended must order at once, not wait out the wrong one's backoff.
    const tsigSecret = config.dns01 === undefined ? '' : (process.env[config.dns01.tsig.secretEnv] ?? '');
    this.#configPrint = createHash('sha256')
      .update(JSON.stringify(config))
      .update(tsigSecret)
      .digest('hex')
      .slice(0, 16);
    this.#store = store;
    this.#logger = logger;
    this.#owner = owner;
    this.#account = new OrderingAccount(config, store, logger, this.#stopping.signal);
    this.#dns01 =
      config.dns01 === undefined
        ? undefined
        : new Dns01Solver(config.dns01, logger, this.#stopping.signal, store);
    this.#renewals = new RenewalPlan({
      config,
      account: this.#account,
      logger,
      stopped: () => this.#stopped,
      due: (managed) => this.#enqueue(managed),
    });
    this.#adoption = {
      config,
      store,
      logger,
      readStored: (managed) => this.#readStored(managed),
      taken: (managed) => {
        this.#owner.issued(managed.name);
        this.#owner.ordered({ name: managed.name, result: 'adopted', errorType: '', failures: 0 });
        this.#renewals.renewed(managed);
      },
    };
    for (const name of names) this.#managed.set(name, { name, ordering: false, failures: 0 });
  }

  /** Reads what the store holds and plans every name; orders run in the background. */
  start(): void {
    this.#store.open();
    // No order of this gateway is under way yet: whatever challenge the store holds is stale.
    this.#store.clearChallenges();
    // DNS-01's are in the zone, and go from there (their list is read now, before this run's own).
    if (this.#dns01 === undefined) forgetLeftovers(this.#store, this.#logger);
    else void this.#dns01.removeLeftovers();
    tidyStore(this.#store, this.#logger);
    // An account whose contact the CA was last told is not acme.email's: brought up to date now.
    if (this.#account.contactOutdated()) void this.#account.update();
    const now = Date.now();
    for (const managed of this.#managed.values()) {
      this.#readStored(managed);
      const due = managed.notAfter === undefined ? now : this.#renewals.renewalOf(managed);
      this.#renewals.plan(managed, Math.max(due, this.#lastRunRetry(managed, now)));
      if (managed.notAfter !== undefined) void this.#renewals.askRenewalInfo(managed);
    }
    warnExpired(this.#logger, this.#managed.values());
    this.#expiredTimer = setInterval(
      () => warnExpired(this.#logger, this.#managed.values()),
      EXPIRED_WARNING_MS,
    ).unref();
  }

  /**
   * When the last run's failed order of `managed` said to try again, if that is still to come
   * and the config is the one that failed (a restart, a crash loop): its failures carried on, so
   * the backoff goes on growing, and said once. 0 otherwise: a config changed since (the operator
   * mended it) tries at once, as does a name whose store cannot be read.
   */
  #lastRunRetry(managed: Managed, now: number): number {
    let last: StoredFailure | undefined;
    try {
      last = this.#store.lastError(managed.name);
    } catch {
      return 0;
    }
    const at = Date.parse(last?.retry_at ?? '');
    if (last === undefined || last.config !== this.#configPrint || !(at > now)) return 0;
    managed.failures = Number.isInteger(last.failures) ? Number(last.failures) : 1;
    managed.lastError = { type: last.type, detail: last.detail, at: last.at };
    // (A time past any backoff is no time this gateway set: a clock set back, a file edited.)
    const retryAt = Math.min(at, now + MAX_RETRY_MS);
    this.#logger.info(
      {
        acme: managed.name,
        acme_error: last.type,
        failures: managed.failures,
        retry_at: new Date(retryAt).toISOString(),
      },
      "the last run's order failed with this config: the next waits out its backoff",
    );
    return retryAt;
  }

  /**
   * Orders nothing more: an order under way is abandoned at once, not carried on beside the one
   * a reload's manager begins (two orders of a name, and the old CA's certificate saved over the
   * new one's) nor past the gateway's close.
   */
  stop(): void {
    this.#stopped = true;
    this.#stopping.abort();
    clearInterval(this.#expiredTimer);
    for (const managed of this.#managed.values()) this.#renewals.stop(managed);
  }

  status(): CertificateStatus[] {
    const now = Date.now();
    return [...this.#managed.values()].map((managed) => certificateStatusOf(managed, now));
  }

  #readStored(managed: Managed): void {
    let stored: { chain: string; key: string } | undefined;
    try {
      stored = this.#store.certificate(managed.name);
    } catch (err) {
      // Not served (the workers skip it too): ordered again as if missing, and said so.
      this.#logger.error(
        { acme: managed.name, err: (err as Error).message },
        'stored certificate unusable: ordering a new one',
      );
      return;
    }
    if (stored === undefined) return;
    const cert = new X509Certificate(stored.chain);
    managed.notBefore = Date.parse(cert.validFrom);
    managed.notAfter = Date.parse(cert.validTo);
    managed.issuer = cert.issuer.replace(/\n/g, ', ');
    const id = certificateId(cert.raw);
    if (id !== managed.certificateId) managed.window = undefined;
    managed.certificateId = id;
  }

  #enqueue(managed: Managed): void {
    if (this.#stopped || managed.ordering || this.#queue.includes(managed)) return;
    this.#queue.push(managed);
    void this.#drainQueue();
  }

  async #drainQueue(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next && !this.#stopped; next = this.#queue.shift())
        await this.#order(next);
    } finally {
      this.#running = false;
    }
  }

  /** The time an order of `name` may take (acme-order.ts's orderWindowMs): DNS-01's waits on top where it may be used. */
  #orderMs(name: string): number {
    const { dns01, challenges } = this.#config;
    const dns = challenges.includes('dns-01') ? dns01?.propagationTimeout : undefined;
    return orderWindowMs(certificateNames(name).length, dns);
  }

  async #order(managed: Managed): Promise<void> {
    const { name } = managed;
    const renewing = managed.notAfter !== undefined;
    managed.ordering = true;
    const started = performance.now();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let fleet = await this.#fleet;
    let locked = false;
    try {
      // Issued already, its storing failed: stored now, never ordered again while it is valid.
      const unstored = managed.unstored;
      managed.unstored = undefined;
      if (unstored !== undefined && Date.parse(new X509Certificate(unstored.chain).validTo) > Date.now()) {
        await this.#landed(managed, { ...unstored, fleet, started, renewing });
        return;
      }
      if (fleet) {
        const turn = await this.#fleetTurn(managed, fleet, started);
        if (turn === 'adopted') return;
        if (turn === 'alone') fleet = undefined;
        locked = fleet !== undefined;
      }
      const replaces = managed.window === undefined ? undefined : managed.certificateId;
      const solver = challengeSolver(this.#store, fleet, this.#dns01);
      const chain = await orderCertificate(this.#account.client(), solver, {
        ...(replaces === undefined ? {} : { replaces }),
        names: certificateNames(name),
        email: this.#config.email,
        certificateKey: privateKey,
        challenges: this.#config.challenges,
        deadline: started + this.#orderMs(name),
        signal: this.#stopping.signal,
      });
      this.#stopping.signal.throwIfAborted();
      // The account the order used (found or made: no request now) is recorded as told.
      await this.#account.update();
      const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      await this.#landed(managed, { chain, keyPem, fleet, started, renewing });
    } catch (err) {
      managed.ordering = false;
      await this.#failed(managed, err, locked ? fleet : undefined, renewing);
    } finally {
      managed.ordering = false;
      if (locked) await fleet?.unlock(name).catch(() => {}); // it expires on its own
    }
  }

  /**
   * Another gateway of the fleet may have it already, or be ordering it now: 'adopted' when its
   * certificate was taken, 'order' once this gateway holds the lock, 'alone' when the fleet's
   * store did not answer (this gateway orders without it).
   */
  async #fleetTurn(
    managed: Managed,
    fleet: AcmeFleet,
    started: number,
  ): Promise<'adopted' | 'order' | 'alone'> {
    const when = {
      deadline: started + this.#orderMs(managed.name),
      lockMs: this.#orderMs(managed.name),
      signal: this.#stopping.signal,
    };
    return fleetTurn(fleet, managed.name, when, () => adoptShared(managed, fleet, this.#adoption)).catch(
      (err: Error) => {
        if (err instanceof AcmeProblem || this.#stopped) throw err;
        this.#logger.warn(
          { acme: managed.name, err: err.message },
          'the fleet store did not answer: this gateway orders alone',
        );
        return 'alone' as const;
      },
    );
  }

  /** The CA's certificate landed: kept, shared with the fleet, served, its renewal planned. */
  async #landed(
    managed: Managed,
    order: {
      chain: string;
      keyPem: string;
      fleet: AcmeFleet | undefined;
      started: number;
      renewing: boolean;
    },
  ): Promise<void> {
    const { name } = managed;
    const { chain, keyPem, fleet } = order;
    try {
      this.#store.saveCertificate(name, chain, keyPem);
    } catch (err) {
      managed.unstored = { chain, keyPem };
      throw new AcmeProblem(
        'candor:internal',
        `this gateway failed the order: the CA issued the certificate, but acme.storage could not keep it (${(err as Error).message}); it is held in memory and stored at the next try, not ordered again`,
        0,
      );
    }
    this.#learnIssuers(chain);
    this.#store.setLastError(name, undefined);
    managed.renewedAt = Date.now();
    this.#readStored(managed);
    await fleet
      ?.publish(name, chain, keyPem, managed.notAfter ?? 0)
      .catch((err: Error) =>
        this.#logger.warn(
          { acme: name, err: err.message },
          'the certificate could not be shared with the fleet',
        ),
      );
    managed.failures = 0;
    managed.lastError = undefined;
    managed.ordering = false;
    this.#logger.info(
      {
        acme: name,
        issuer: managed.issuer,
        not_after: new Date(managed.notAfter ?? 0).toISOString(),
        ms: Math.round(performance.now() - order.started),
      },
      order.renewing ? 'certificate renewed' : 'certificate issued',
    );
    this.#owner.issued(name);
    this.#owner.ordered({ name, result: 'ok', errorType: '', failures: 0 });
    warnRenewingAtOnce(this.#logger, managed, this.#config.renewBefore);
    this.#renewals.renewed(managed);
  }

  /**
   * The order failed (or was abandoned by stop()): logged with the CA's problem, told to the
   * fleet when this gateway held its lock (`locked`), and tried again after the backoff.
   */
  async #failed(
    managed: Managed,
    err: unknown,
    locked: AcmeFleet | undefined,
    renewing: boolean,
  ): Promise<void> {
    const { name } = managed;
    if (this.#stopped) {
      this.#logger.info(
        {
          acme: name,
          reason: 'ordering stopped: a reload changed acme or the names, or the gateway closed',
        },
        'certificate order abandoned',
      );
      return;
    }
    managed.failures++;
    const problem = problemOf(err);
    managed.lastError = { type: problem.type, detail: problem.detail, at: new Date().toISOString() };
    const retry = retryDelay(managed.failures, problem.retryAfterMs);
    const retryAt = Date.now() + retry;
    try {
      this.#store.setLastError(name, {
        ...managed.lastError,
        failures: managed.failures,
        retry_at: new Date(retryAt).toISOString(),
        config: this.#configPrint,
      });
    } catch {
      // kept for diagnose and the next start only: the log line below tells it anyway
    }
    // The fleet waits for this gateway's retry rather than each gateway failing in turn.
    await locked
      ?.failed(name, problem, retryAt)
      .catch((e: Error) =>
        this.#logger.warn({ acme: name, err: e.message }, 'the failed order could not be told to the fleet'),
      );
    this.#logger.error(
      {
        acme: name,
        acme_error: problem.type,
        detail: problem.detail,
        failures: managed.failures,
        retry_in_s: Math.round(retry / 1000),
      },
      renewing ? 'certificate renewal failed' : 'certificate order failed',
    );
    this.#owner.ordered({
      name,
      result: 'failed',
      errorType: problemLabel(problem.type),
      failures: managed.failures,
    });
    // A renewal that fails keeps the certificate in service until it ends; the retry comes
    // sooner than the renewal would have.
    this.#renewals.plan(managed, retryAt);
  }

  /** What the CA's chain tells of its issuers and lifetimes (ca-issuers.ts): the fleet's certificates are checked against it. */
  #learnIssuers(chain: string): void {
    const { directory } = this.#config;
    try {
      this.#store.saveIssuers(directory, learnIssuers(this.#store.issuers(directory), chain));
    } catch (err) {
      this.#logger.warn(
        { err: (err as Error).message },
        "the CA's issuers could not be kept in acme.storage: the fleet's certificates are checked against the public roots",
      );
    }
  }
}
