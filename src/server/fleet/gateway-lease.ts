/**
 * A gateway's record in the fleet, under a lease: written when the gateway starts and again
 * whenever what it runs changes, kept alive every third of the lease's time; a gateway that
 * dies (or loses etcd past the lease) drops out when the lease ends. A lease etcd let go while
 * it was away is taken anew when etcd answers again.
 */
import type { Logger } from '../../observe/log/logger.ts';
import type { EtcdClient } from '../../upstream/config-source/etcd-client.ts';
import { EtcdError } from '../../upstream/config-source/etcd-transport.ts';
import { type GatewayRecord, gatewaysPrefix, readJson } from './fleet-keys.ts';

/** Seconds a dead gateway stays listed: long enough for a stall, short enough for an operator's look. */
export const LEASE_SECONDS = 10;

/** How long a stopping gateway gives etcd to end its lease. */
const STOP_MS = 2_000;

export class GatewayLease {
  readonly #client: EtcdClient;
  readonly #key: string;
  #lease: string | undefined;
  #record: GatewayRecord;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The last write did not reach etcd: the next renewal writes the record again. */
  #dirty = false;
  /** Writes run one at a time, in order: a later record never lands under an older one. */
  #queue: Promise<void> = Promise.resolve();

  /** Told when a renewal finds etcd away (not when it refuses): its why. */
  readonly #onAway: (why: string) => void;
  /** Told when another live gateway holds this name (its record), and when it no longer does (undefined). */
  readonly #onNameTaken: (holder: GatewayRecord | undefined) => void;
  /** Another live gateway's record holds this name: this one writes none until it is gone. */
  #nameTakenBy: GatewayRecord | undefined;
  /** A read of the name's record has succeeded (with etcd away at the start, whose it is is unknown). */
  #nameKnown = false;

  constructor(
    client: EtcdClient,
    key: string,
    record: GatewayRecord,
    onAway: (why: string) => void = () => {},
    onNameTaken: (holder: GatewayRecord | undefined) => void = () => {},
  ) {
    this.#client = client;
    this.#onAway = onAway;
    this.#onNameTaken = onNameTaken;
    this.#key = `${gatewaysPrefix(key)}${record.name}`;
    this.#record = record;
  }

  /** Writes the record and keeps it alive until stop(). */
  start(): void {
    this.#write();
    this.#timer = setInterval(() => this.#renew(), (LEASE_SECONDS * 1000) / 3);
    this.#timer.unref();
  }

  /** The record changed (a revision applied or refused, etcd lost or found): written again. */
  update(record: GatewayRecord): void {
    this.#record = record;
    this.#write();
  }

  /**
   * Ends the lease at once: a gateway that stops leaves the fleet's list now. Bounded: with etcd
   * away, a write under way and the revoke would each wait out their call's timeout, and the
   * gateway's exit with them; the lease then ends by itself.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    const revoke = this.#queue.then(() =>
      this.#lease === undefined ? undefined : this.#client.revoke(this.#lease).catch(() => {}),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([revoke, new Promise((resolve) => (timer = setTimeout(resolve, STOP_MS)))]);
    clearTimeout(timer);
  }

  /**
   * Whether this gateway holds its name (no other live gateway's record is under it), as the
   * record's latest write or renewal found, once the writes asked for before are over; false
   * until one has read it (etcd away since the start). A gateway that does not is no member of
   * a canary naming it (the canary's next look asks again), and counts and judges none.
   */
  async nameIsMine(): Promise<boolean> {
    await this.#queue;
    return this.#nameKnown && this.#nameTakenBy === undefined;
  }

  /**
   * `work` with this gateway's lease (taken if there is none), in the order of the record's
   * writes: a key bound to it (a canary's counts, the judge's name) goes when the gateway does.
   * Rejects when etcd does not answer, or the gateway stopped.
   */
  withLease<T>(work: (lease: string) => Promise<T>): Promise<T> {
    const done = this.#queue.then(async () => {
      if (this.#stopped) throw new Error('the gateway is stopping');
      this.#lease ??= await this.#client.grantLease(LEASE_SECONDS);
      try {
        return await work(this.#lease);
      } catch (err) {
        if (/lease not found/.test((err as Error).message)) {
          this.#lease = undefined;
          this.#dirty = true;
        }
        throw err;
      }
    });
    this.#queue = done.then(
      () => {},
      () => {},
    );
    return done;
  }

  /**
   * Whether this gateway may write its record: none is there, or the one there is its own (its
   * listeners' address on this host: written by this process, or by the same gateway before a
   * restart).
   * Another live gateway's (two gateways given one name, as two on one host without
   * `local.name` are: the host's) is left as it is: written over, each would hide the other
   * from the fleet's list, and the one that stopped first would take the other's record with
   * its lease. Read at every write and renewal: a record of this gateway's that another's lease
   * took away is written again.
   */
  async #nameFree(): Promise<boolean> {
    const kv = (await this.#client.range(this.#key)).kvs[0];
    const holder = kv === undefined ? undefined : readJson<GatewayRecord>(kv.value);
    const taken = holder !== undefined && !sameGateway(holder, this.#record) ? holder : undefined;
    this.#nameKnown = true;
    if ((taken === undefined) !== (this.#nameTakenBy === undefined)) this.#onNameTaken(taken);
    this.#nameTakenBy = taken;
    if (kv === undefined) this.#dirty = true;
    return taken === undefined;
  }

  #write(): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#stopped) return;
      try {
        if (!(await this.#nameFree())) return;
        this.#lease ??= await this.#client.grantLease(LEASE_SECONDS);
        await this.#client.put(this.#key, JSON.stringify(this.#record), this.#lease);
        this.#dirty = false;
      } catch (err) {
        this.#dirty = true;
        // A lease that ended (etcd was away longer than it) cannot bind a key: the next try takes a new one.
        if (/lease not found/.test((err as Error).message)) this.#lease = undefined;
      }
    });
  }

  #renew(): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#stopped) return;
      try {
        if (this.#lease !== undefined && (await this.#client.keepAlive(this.#lease)) <= 0)
          this.#lease = undefined;
        if (!(await this.#nameFree())) return;
        if (this.#lease === undefined || this.#dirty) {
          this.#lease ??= await this.#client.grantLease(LEASE_SECONDS);
          await this.#client.put(this.#key, JSON.stringify(this.#record), this.#lease);
          this.#dirty = false;
        }
      } catch (err) {
        // etcd away: tried again at the next renewal, and the config key's watch, which a silent
        // member never ends, is opened again (fleet-source.ts).
        if (err instanceof EtcdError && err.kind === 'unreachable') this.#onAway(err.message);
      }
    });
  }
}

/**
 * Whether a record under this gateway's name is its own: the same listeners' address on the same
 * host. A record of an earlier version names no host: its address alone decides.
 */
function sameGateway(holder: GatewayRecord, mine: GatewayRecord): boolean {
  return holder.address === mine.address && (holder.host === undefined || holder.host === mine.host);
}

/** Another live gateway holds this one's name (or no longer does): said, as the fleet's list cannot show both. */
export function toldNameTaken(
  logger: Logger,
  name: string,
  address: string,
  holder: GatewayRecord | undefined,
): void {
  if (holder === undefined)
    return logger.info({ name }, `gateway name "${name}" is free again: this gateway is in the fleet's list`);
  logger.error(
    { name, holder: holder.address, holder_host: holder.host, holder_pid: holder.pid, address },
    `gateway name "${name}" is held by another live gateway (${holder.address}${holder.host === undefined ? '' : ` on ${holder.host}`}, pid ${holder.pid}): this one serves on but stays out of the fleet's list and canaries until it is free; give each gateway its own local.name`,
  );
}
