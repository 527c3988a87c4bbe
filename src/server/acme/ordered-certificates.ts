import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { AcmeChallenges } from '../../proxy/accept/acme-challenge.ts';
import type { CertificateSource } from '../../proxy/accept/server-tls.ts';
import type { AcmeFleet } from './acme-fleet.ts';
import type { AcmeStore, HttpChallenge } from './acme-store.ts';

/** One ordered certificate as this process serves it. */
interface Served {
  readonly chain: string;
  readonly key: string;
  readonly notAfter: number;
  /** By the listener's options besides the pair (server-tls.ts's SniTable.shared): made once per listener config. */
  readonly contexts: WeakMap<object, tls.SecureContext>;
}

/**
 * The certificates the gateway ordered, as every process that serves TLS holds them: read from
 * `acme.storage` at start and again when an order or renewal lands (told by the process that
 * ordered), served by SNI beside the configured ones. The challenges being validated are read
 * from the store when the CA asks, so whichever worker takes its connection answers.
 */
export class OrderedCertificates implements AcmeChallenges {
  readonly #store: AcmeStore;
  readonly #fleet: Promise<AcmeFleet | undefined> | undefined;
  readonly #held = new Map<string, Served>();
  /** Every name the config orders, served or not. */
  readonly #names: readonly string[];

  constructor(store: AcmeStore, names: readonly string[], fleet?: Promise<AcmeFleet | undefined>) {
    this.#store = store;
    this.#names = names;
    this.#fleet = fleet;
  }

  /** (Re)reads these names' certificates from the store; a name with none yet is skipped. */
  load(names: Iterable<string>): void {
    for (const name of names) {
      let stored: { chain: string; key: string } | undefined;
      try {
        stored = this.#store.certificate(name);
      } catch {
        // Unusable on disk: the ordering process logs it and orders a new one; none served meanwhile.
        continue;
      }
      if (stored === undefined) continue;
      const notAfter = Date.parse(new X509Certificate(stored.chain).validTo);
      this.#held.set(name, { ...stored, notAfter, contexts: new WeakMap() });
    }
  }

  /**
   * The SNI lookup of the listeners: a context per listener config (its lowest TLS version, the
   * CAs of its client certificates), made at its first handshake and let go with that config.
   */
  readonly source: CertificateSource = {
    contextFor: (servername, shared) => {
      const held = this.#servedFor(servername);
      if (held === undefined) return undefined;
      let context = held.contexts.get(shared);
      if (context === undefined) {
        context = tls.createSecureContext({ cert: held.chain, key: held.key, ...shared });
        held.contexts.set(shared, context);
      }
      return context;
    },
  };

  /**
   * The certificate for an SNI name: its own, else a wildcard's one label up (`a.example.com`
   * by `*.example.com`'s), else the wildcard's whose apex it is (`example.com`: certificateNames).
   */
  #servedFor(servername: string): Served | undefined {
    const dot = servername.indexOf('.');
    return (
      this.#held.get(servername) ??
      (dot > 0 ? this.#held.get(`*${servername.slice(dot)}`) : undefined) ??
      this.#held.get(`*.${servername}`)
    );
  }

  /**
   * When each name's certificate served here ends (for the expiry gauge), for every name the
   * config orders: one with none served (never ordered, every order failed, unusable on disk)
   * has no `notAfter`, so that the gauge still has its series.
   */
  expiries(): { name: string; notAfter: number | undefined }[] {
    return this.#names.map((name) => ({ name, notAfter: this.#held.get(name)?.notAfter }));
  }

  httpAnswer(token: string, host: string): string | undefined {
    return answerFor(this.#store.httpChallenge(token), host);
  }

  /** In a fleet: the answer another gateway's order put in Redis (undefined without a fleet); rejects when Redis fails. */
  get remoteHttpAnswer(): ((token: string, host: string) => Promise<string | undefined>) | undefined {
    const fleet = this.#fleet;
    if (fleet === undefined) return undefined;
    return async (token, host) => answerFor(await (await fleet)?.httpChallenge(token), host);
  }

  /**
   * The TLS-ALPN-01 certificate for a connection that offered only `acme-tls/1`, while one is
   * being validated: from the store, else (in a fleet) from another gateway's order in Redis.
   */
  alpnContext(servername: string): tls.SecureContext | undefined | Promise<tls.SecureContext | undefined> {
    const name = servername.toLowerCase();
    let pem: string | undefined;
    try {
      pem = this.#store.alpnChallenge(name);
    } catch {
      return undefined; // not a name the store could hold
    }
    if (pem !== undefined) return contextOf(pem);
    const fleet = this.#fleet;
    if (fleet === undefined) return undefined;
    return fleet
      .then((open) => open?.alpnChallenge(name))
      .then((found) => (found === undefined ? undefined : contextOf(found)))
      .catch(() => undefined);
  }
}

/**
 * The key authorization of a challenge for `host`'s name only (`host` is lowercase; the name is
 * the CA's authorization's identifier, which no RFC holds to the case it was ordered in).
 */
function answerFor(challenge: HttpChallenge | undefined, host: string): string | undefined {
  return challenge?.name.toLowerCase() === host ? challenge.keyAuthorization : undefined;
}

/** A validation certificate and its key, as the store keeps them (the certificate, then the key). */
function contextOf(pem: string): tls.SecureContext {
  const split = pem.indexOf('-----BEGIN PRIVATE KEY-----');
  return tls.createSecureContext({ cert: pem.slice(0, split), key: pem.slice(split) });
}
