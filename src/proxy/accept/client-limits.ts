import type { PerClientLimits } from '../../core/config/types.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { noRelease, type Release } from '../../core/limits/count.ts';
import { PerKeyCount } from '../../core/limits/per-key-count.ts';
import { clientKey, MAX_CLIENTS, takeClientSlot } from '../admit/client-slots.ts';

/**
 * `limits.per_client`: connections and requests in flight per client address (as nginx's
 * `limit_conn`), over every listener of this process. Each worker of a cluster enforces the
 * whole limit on what it holds (README, "Slow clients"): a client's connections land on
 * workers as the kernel spreads them, so a split would refuse a client whose connections all
 * came to one worker.
 *
 * The address is the one the gateway knows for the client: a request's `remoteAddress` (the
 * field a PROXY-protocol header fills in where the listener reads one), a connection's peer
 * address as it is accepted (listener.ts). An IPv6 client is its /64 (client-block.ts): a host
 * picks its own addresses in it, and would hold the limit once per address it cared to use.
 */
export class ClientLimits {
  readonly #limits: () => PerClientLimits | undefined;
  readonly #connections = new PerKeyCount(MAX_CLIENTS);
  readonly #requests = new PerKeyCount(MAX_CLIENTS);

  /** `limits`: the live ones (a reload changes them for new connections and requests). */
  constructor(limits: () => PerClientLimits | undefined) {
    this.#limits = limits;
  }

  /** Takes a connection slot for this address; a Failure (429) when it holds its limit already. */
  connection(address: string): Release | Failure {
    const max = this.#limits()?.connections;
    if (max === undefined) return noRelease;
    return takeClientSlot(this.#connections, clientKey(address), max, ['connection', 'connections']);
  }

  /**
   * Takes a request slot for this address; a Failure (429) when it has its limit in flight
   * already. With `key: identity` nothing is counted here: the admit phase counts the request
   * once its route's auth named the user (Admission).
   */
  request(address: string): Release | Failure {
    const limits = this.#limits();
    // Without a limit (the default) the address is not even keyed: its block cost every request
    // a split and an isIP (some 60 bytes and a regular expression, HTTP/2 streams and HTTP/1.1
    // requests alike), for a count nobody takes.
    if (limits?.requests === undefined || limits.key === 'identity') return noRelease;
    return takeClientSlot(this.#requests, clientKey(address), limits.requests, [
      'request in flight',
      'requests in flight',
    ]);
  }

  /** Addresses followed now, per table (for tests and the status page: the bound is kept). */
  get size(): { connections: number; requests: number } {
    return { connections: this.#connections.size, requests: this.#requests.size };
  }
}
