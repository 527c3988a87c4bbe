import type { PerClientLimits } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { noRelease, type Release } from '../../core/limits/count.ts';
import { PerKeyCount } from '../../core/limits/per-key-count.ts';
import { clientBlock } from '../../core/net/client-block.ts';

/**
 * The most client addresses each table follows at once. An entry lives while its address
 * holds a connection or a request, so the listeners' `max_connections` bounds the table long
 * before this does; this bound is for the worst case (a flood from many addresses), where a
 * new address past it is refused like one over its limit.
 */
export const MAX_CLIENT_ADDRESSES = 100_000;

/** A client's refusals say when to come back: a connection or a request of its own will have ended by then. */
const RETRY_AFTER_S = 1;

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
  readonly #connections = new PerKeyCount(MAX_CLIENT_ADDRESSES);
  readonly #requests = new PerKeyCount(MAX_CLIENT_ADDRESSES);

  /** `limits`: the live ones (a reload changes them for new connections and requests). */
  constructor(limits: () => PerClientLimits | undefined) {
    this.#limits = limits;
  }

  /** Takes a connection slot for this address; a Failure (429) when it holds its limit already. */
  connection(address: string): Release | Failure {
    return take(this.#connections, address, this.#limits()?.connections, 'connections');
  }

  /** Takes a request slot for this address; a Failure (429) when it has its limit in flight already. */
  request(address: string): Release | Failure {
    return take(this.#requests, address, this.#limits()?.requests, 'requests in flight');
  }

  /** Addresses followed now, per table (for tests and the status page: the bound is kept). */
  get size(): { connections: number; requests: number } {
    return { connections: this.#connections.size, requests: this.#requests.size };
  }
}

function take(table: PerKeyCount, address: string, max: number | undefined, what: string): Release | Failure {
  if (max === undefined) return noRelease;
  const key = clientBlock(address);
  const release = table.acquire(key, max);
  if (release !== undefined) return release;
  const details =
    table.count(key) >= max
      ? `${key.includes('/') ? "this client's IPv6 /64" : 'this client address'} holds ${max} ${what} already (limits.per_client)`
      : `the gateway follows ${MAX_CLIENT_ADDRESSES} client addresses already (limits.per_client)`;
  return new Failure('http_request_denied', details, { retryAfter: RETRY_AFTER_S });
}
