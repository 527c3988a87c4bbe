import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AcmeConfig } from '../../core/config/types.ts';
import { challengeCertificate } from '../../core/tls/challenge-certificate.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { AcmeClient, contactFor, sameContact } from './acme-client.ts';
import type { AcmeFleet } from './acme-fleet.ts';
import type { ChallengeSolver } from './acme-order.ts';
import { AcmeProblem } from './acme-problem.ts';
import type { AcmeStore } from './acme-store.ts';
import type { Dns01Solver } from './dns01-solver.ts';

/**
 * The gateway's account at the `acme` CA, as the ordering process holds it: its key in the
 * store (made at the first order), the client that signs with it, and the contact the CA was
 * last told. Apart from the manager, which plans each name's orders: this is what every order
 * shares.
 */
export class OrderingAccount {
  readonly #config: AcmeConfig;
  readonly #store: AcmeStore;
  readonly #logger: Logger;
  /** Aborted when ordering stops: a request to the CA under way ends there. */
  readonly #signal: AbortSignal;
  #client: AcmeClient | undefined;

  constructor(config: AcmeConfig, store: AcmeStore, logger: Logger, signal: AbortSignal) {
    this.#config = config;
    this.#store = store;
    this.#logger = logger;
    this.#signal = signal;
  }

  /**
   * An account made before, whose contact the CA was last told is not acme.email's (it changed,
   * or was removed, or was never recorded): to be brought up to date at start, not at the next
   * order, which may be weeks away. One request to the CA then; none at a start that changed nothing.
   */
  contactOutdated(): boolean {
    const { directory, email } = this.#config;
    try {
      if (this.#store.accountKey(directory) === undefined) return false;
      const told = this.#store.accountContact(directory);
      return told === undefined || !sameContact(told, contactFor(email));
    } catch {
      // Unreadable: the first order fails on it, naming the file (client()), and the gateway serves on.
      return false;
    }
  }

  /**
   * The account of the key, its contact brought to acme.email's (acme-client.ts's account), and
   * what the CA was told recorded in the store. A failure is said and left: the next order (or
   * start) tries again, and an order that cannot reach the account fails on its own.
   */
  async update(): Promise<void> {
    const { directory, email } = this.#config;
    try {
      const account = await this.client().account(email);
      this.#store.saveAccountContact(directory, contactFor(email));
      if (account.replaced !== undefined)
        this.#logger.info(
          { acme_account: account.url, contact: contactFor(email), was: account.replaced },
          'ACME account contact updated',
        );
    } catch (err) {
      if (this.#signal.aborted) return;
      this.#logger.warn(
        { err: (err as Error).message },
        'ACME account contact not brought up to date: tried again at the next order',
      );
    }
  }

  client(): AcmeClient {
    if (this.#client) return this.#client;
    const directory = this.#config.directory;
    // An unreadable or damaged key is not replaced by a new one: the CA's account (and what it
    // ordered) is this key's. The order fails naming the file.
    const unusable = (err: unknown) =>
      new AcmeProblem(
        'candor:account-key',
        `${this.#store.accountKeyFile(directory)}: the stored ACME account key cannot be used (${(err as Error).message}); restore it, or move it away for a new account to be made`,
        0,
      );
    let pem: string | undefined;
    try {
      pem = this.#store.accountKey(directory);
    } catch (err) {
      throw unusable(err);
    }
    if (pem === undefined) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      this.#store.saveAccountKey(directory, pem);
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw unusable(err);
    }
    const ca = this.#config.ca === undefined ? undefined : readFileSync(this.#config.ca, 'utf8');
    this.#client = new AcmeClient(directory, key, { ca, timeoutMs: 30_000, signal: this.#signal });
    return this.#client;
  }
}

/**
 * The challenges live in the store, where whichever process takes the CA's connection reads
 * them; in a fleet, in Redis too, where the other gateways do. DNS-01's live in the zone
 * (`dns01`, present with `acme.dns01`).
 */
export function challengeSolver(
  store: AcmeStore,
  fleet: AcmeFleet | undefined,
  dns01: Dns01Solver | undefined,
): ChallengeSolver {
  return {
    present: async (type, name, token, keyAuthorization) => {
      if (type === 'dns-01') {
        // acme-checks.ts lets dns-01 into acme.challenges only with acme.dns01.
        if (dns01 === undefined) throw new Error('dns-01 without acme.dns01');
        await dns01.present(name, keyAuthorization, token);
      } else if (type === 'http-01') {
        store.setHttpChallenge(token, { name, keyAuthorization });
        await fleet?.setHttpChallenge(token, { name, keyAuthorization });
      } else {
        const { cert, key } = challengeCertificate(name, keyAuthorization);
        store.setAlpnChallenge(name, cert + key);
        await fleet?.setAlpnChallenge(name, cert + key);
      }
    },
    cleanup: async (type, name, token) => {
      if (type === 'dns-01') await dns01?.cleanup(name, token);
      else if (type === 'http-01') {
        store.setHttpChallenge(token, undefined);
        await fleet?.setHttpChallenge(token, undefined).catch(() => {}); // expires on its own
      } else {
        store.setAlpnChallenge(name, undefined);
        await fleet?.setAlpnChallenge(name, undefined).catch(() => {});
      }
    },
  };
}
