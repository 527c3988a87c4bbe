import { createHash } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dns01Config } from '../../core/config/types.ts';
import { AcmeProblem, problemOf } from './acme-problem.ts';
import { DNS_EXCHANGE_MS, type DnsServer, serverLabel } from './dns-exchange.ts';
import { query, type TxtChange, updateTxt } from './dns-update.ts';
import { readName, sameName, TYPE } from './dns-wire.ts';
import type { TsigKey } from './tsig.ts';
import { txtUnseen } from './txt-unseen.ts';

/** How often the authoritative servers are asked again while the record is not seen at each. */
const PROPAGATION_POLL_MS = 1_000;
/** Where an authoritative server found by the zone's NS answers (RFC 1035 §4.2). */
const DNS_PORT = 53;

/** What the solver tells: the gateway's logger, or `candor diagnose --acme`'s notes. */
export interface Dns01Log {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * DNS-01 (RFC 8555 §8.4) through the zone's primary: the TXT record `_acme-challenge.NAME`
 * holding the key authorization's digest is added by a signed dynamic update, then looked for at
 * every authoritative server of the zone until each returns it (bounded by
 * `propagation_timeout`): only then is the CA asked to validate, so that it never asks a
 * secondary that has not caught up. `cleanup` removes the record, whatever became of the
 * order; a removal that fails is logged, never told as the order's failure.
 *
 * A record is listed in `acme.storage` before it is added and unlisted once removed
 * (`Dns01Journal`): a gateway killed in between (during the wait for the secondaries, a crash)
 * would leave it in the zone for good, and the next start removes what is listed
 * (`removeLeftovers`). Each is removed by its value: another order's record of the same name (a
 * wildcard and its apex share `_acme-challenge.NAME`) is never touched.
 */
export class Dns01Solver {
  readonly #config: Dns01Config;
  readonly #logger: Dns01Log;
  readonly #signal: AbortSignal | undefined;
  readonly #journal: Dns01Journal | undefined;
  /**
   * The records added and not yet removed, by the challenge's id (its token: a wildcard's and its
   * apex's are both of `name`, and in the zone at once): a failed addition leaves nothing to remove.
   */
  readonly #added = new Map<string, TxtChange>();

  constructor(config: Dns01Config, logger: Dns01Log, signal?: AbortSignal, journal?: Dns01Journal) {
    this.#config = config;
    this.#logger = logger;
    this.#signal = signal;
    this.#journal = journal;
  }

  async present(name: string, keyAuthorization: string, id = name): Promise<void> {
    const change: TxtChange = {
      server: this.#config.server,
      zone: this.#config.zone,
      key: this.#key(),
      name: `_acme-challenge.${name}`,
      value: createHash('sha256').update(keyAuthorization).digest('base64url'),
      ...(this.#signal === undefined ? {} : { signal: this.#signal }),
    };
    const entry = recordId(change);
    this.#journal?.setDnsRecord(
      entry,
      JSON.stringify({ record: change.name, zone: change.zone, value: change.value }),
    );
    await updateTxt(change, 'add').catch((err: Error) => {
      // Refused (an rcode, or no key to sign with): not in the zone. Else (no answer) it may be,
      // and cleanup removes it now, as for one added (a removal of what is not there changes nothing).
      if (NOT_ADDED.has(problemOf(err).type)) this.#journal?.setDnsRecord(entry, undefined);
      else this.#added.set(id, change);
      throw err;
    });
    this.#added.set(id, change);
    await this.#propagated(change);
    this.#logger.info(
      { acme: name, record: change.name, zone: change.zone, server: this.#config.server.address },
      'DNS-01 record added and seen at every authoritative server',
    );
  }

  async cleanup(name: string, id = name): Promise<void> {
    const change = this.#added.get(id);
    if (change === undefined) return;
    this.#added.delete(id);
    // Not the order's signal: a record is removed even when the order was abandoned.
    const { signal: _abandoned, ...removal } = change;
    await updateTxt(removal, 'delete').then(
      () => this.#journal?.setDnsRecord(recordId(change), undefined),
      (err: Error) =>
        this.#logger.warn(
          { acme: name, record: change.name, err: err.message },
          `DNS-01 record not removed: ${this.#journal === undefined ? 'remove it by hand' : 'the next start tries again'} (it proves nothing once the order is over)`,
        ),
    );
  }

  /**
   * Removes the records an earlier run listed and did not remove (a crash during an order, a
   * removal that failed), each from the zone it was added to, through this config's primary and
   * key. One that cannot be removed now stays listed, for the next start.
   */
  async removeLeftovers(): Promise<void> {
    let listed: Map<string, string>;
    try {
      listed = this.#journal?.dnsRecords() ?? new Map();
    } catch (err) {
      // Started unawaited at start: a throw here would be an unhandled rejection, the process's end.
      this.#logger.warn(
        { err: (err as Error).message },
        'DNS-01 records an earlier run left could not be listed: any it left stay in the zone',
      );
      return;
    }
    for (const [id, text] of listed) {
      const left = leftRecordOf(text);
      try {
        if (left === undefined) {
          unreadable(this.#logger, id);
          this.#journal?.setDnsRecord(id, undefined);
          continue;
        }
        const { record, zone, value } = left;
        await updateTxt(
          { server: this.#config.server, key: this.#key(), zone, name: record, value },
          'delete',
        );
        this.#journal?.setDnsRecord(id, undefined);
        this.#logger.info(left, 'DNS-01 record an earlier run left in the zone removed');
      } catch (err) {
        this.#logger.warn(
          { ...left, entry: id, err: problemOf(err).detail },
          'DNS-01 record an earlier run left in the zone not removed: the next start tries again',
        );
      }
    }
  }

  /** The TSIG key, its secret read from the environment now (serve and `candor check` made sure it was there). */
  #key(): TsigKey {
    const { name, algorithm, secretEnv } = this.#config.tsig;
    const secret = Buffer.from(process.env[secretEnv] ?? '', 'base64');
    if (secret.length === 0)
      throw new AcmeProblem(
        'candor:dns-tsig',
        `acme.dns01.tsig.secret_env: the variable ${secretEnv} holds no base64 secret for the key ${name}`,
        0,
      );
    return { name, algorithm, secret };
  }

  /** Waits until every authoritative server returns the record, or says which did not in time. */
  async #propagated(change: TxtChange): Promise<void> {
    const deadline = performance.now() + this.#config.propagationTimeout;
    const servers = this.#config.nameservers ?? (await zoneNameservers(this.#config, this.#signal));
    const waiting = new Map(servers.map((server) => [serverLabel(server), server]));
    const last = new Map<string, string>();
    for (;;) {
      for (const [label, server] of waiting) {
        // A server that does not answer holds the wait no longer than the time left.
        const left = Math.max(1, Math.min(DNS_EXCHANGE_MS, Math.ceil(deadline - performance.now())));
        const seen = await query(server, change.name, TYPE.TXT, this.#signal, left).then(
          (answer) => {
            const why = txtUnseen(answer, change.name, change.value, change.zone);
            if (why !== undefined) last.set(label, why);
            return why === undefined;
          },
          (err: Error) => {
            if (this.#signal?.aborted) throw err;
            last.set(label, problemOf(err).detail);
            return false;
          },
        );
        if (seen) waiting.delete(label);
      }
      if (waiting.size === 0) return;
      if (performance.now() + PROPAGATION_POLL_MS > deadline) break;
      await sleep(PROPAGATION_POLL_MS, undefined, { signal: this.#signal });
    }
    const unseen = [...waiting.keys()].map((label) =>
      last.has(label) ? `${label} (${last.get(label)})` : label,
    );
    throw new AcmeProblem(
      'candor:dns-propagation',
      `${change.name} TXT was not seen at ${unseen.join(', ')} within ${this.#config.propagationTimeout / 1000} s of its update: the CA was not asked`,
      0,
    );
  }
}

/** Where the records added and not yet removed are listed (`acme.storage`: AcmeStore). */
export interface Dns01Journal {
  dnsRecords(): Map<string, string>;
  setDnsRecord(id: string, text: string | undefined): void;
}

/**
 * Without `acme.dns01` (taken out of the config since) nothing can remove the records an earlier
 * run listed: each is told, to be removed by hand, and unlisted.
 */
export function forgetLeftovers(journal: Dns01Journal, logger: Dns01Log): void {
  for (const [id, text] of journal.dnsRecords()) {
    const left = leftRecordOf(text);
    if (left !== undefined)
      logger.warn(
        left,
        'DNS-01 record an earlier run left in the zone: acme.dns01 is gone, remove it by hand',
      );
    else unreadable(logger, id);
    journal.setDnsRecord(id, undefined);
  }
}

/**
 * An entry of the list that does not read as a record (a damaged file): unlisted, as nothing can
 * remove what it named, but said, naming it (`challenges/dns-01/<entry>.json` in acme.storage).
 * Unlisted in silence, the record it named stayed in the zone with no word of it.
 */
function unreadable(logger: Dns01Log, entry: string): void {
  logger.warn(
    { entry },
    'DNS-01 record an earlier run left: its entry cannot be read, so any record it named stays in the zone (remove it by hand)',
  );
}

/** Answers that say an update was not applied: the record is not in the zone. */
const NOT_ADDED = new Set(['candor:dns-refused', 'candor:dns-tsig']);

/** A record's id in the journal: its name and value (two orders of one name have two). */
const recordId = (change: TxtChange): string =>
  createHash('sha256').update(`${change.name} ${change.value}`).digest('hex').slice(0, 32);

/** A journal entry read back; undefined for anything else (a file damaged, or of another version). */
function leftRecordOf(text: string): { record: string; zone: string; value: string } | undefined {
  try {
    const { record, zone, value } = JSON.parse(text);
    return [record, zone, value].every((v) => typeof v === 'string') ? { record, zone, value } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The zone's authoritative servers: its NS records as the primary holds them, each at the
 * addresses the primary gives (glue, or a name in the zone) or else the system resolver does.
 */
export async function zoneNameservers(config: Dns01Config, signal?: AbortSignal): Promise<DnsServer[]> {
  const answer = await query(config.server, config.zone, TYPE.NS, signal);
  const hosts = answer.answers.filter((r) => r.type === TYPE.NS && sameName(r.name, config.zone));
  const servers: DnsServer[] = [];
  for (const record of hosts) {
    const host = readName(answer.message, record.at).name;
    for (const address of await addressesOf(config, host, signal))
      servers.push({ host: address, port: DNS_PORT });
  }
  if (servers.length === 0)
    throw new AcmeProblem(
      'candor:dns-propagation',
      `the primary ${config.server.address} gives no reachable NS of ${config.zone}: set acme.dns01.nameservers`,
      0,
    );
  return servers;
}

async function addressesOf(config: Dns01Config, host: string, signal?: AbortSignal): Promise<string[]> {
  const found: string[] = [];
  for (const type of [TYPE.A, TYPE.AAAA]) {
    const answer = await query(config.server, host, type, signal).catch(() => undefined);
    for (const r of answer?.answers ?? [])
      if (r.type === type && r.data.length === (type === TYPE.A ? 4 : 16)) found.push(addressText(r.data));
  }
  if (found.length > 0) return found;
  const resolver = new Resolver({ timeout: 5_000, tries: 2 });
  const [v4, v6] = await Promise.all([
    resolver.resolve4(host).catch(() => [] as string[]),
    resolver.resolve6(host).catch(() => [] as string[]),
  ]);
  return [...v4, ...v6];
}

/** An A or AAAA record's address as node:net takes it. */
function addressText(data: Buffer): string {
  if (data.length === 4) return [...data].join('.');
  const groups: string[] = [];
  for (let at = 0; at < 16; at += 2) groups.push(data.readUInt16BE(at).toString(16));
  return groups.join(':');
}
