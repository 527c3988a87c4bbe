import dns from 'node:dns';

/** What dns.lookup answers: an address and its family, or every address (`all: true`, as net asks for them). */
type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/** The lookups under way, by name and options, with the callbacks each is awaited by. */
const underWay = new Map<string, LookupCallback[]>();

/**
 * dns.lookup, one at a time per name: a connection that needs a name already being looked up
 * waits for that lookup's answer. getaddrinfo runs on libuv's few threads (4 by default) and
 * holds one for as long as the resolver takes, seconds when it never answers: a lookup per
 * connection to a name whose DNS is silent took every thread, and a healthy upstream's name,
 * which its DNS answers at once, waited behind them to its connect timeout, a dns_timeout told
 * of the wrong upstream. Each connection keeps its own connect timeout (connector.ts).
 */
export function sharedLookup(host: string, options: dns.LookupOptions, callback: LookupCallback): void {
  const { family = 0, hints = 0, all = false, order = '', verbatim = '' } = options;
  const key = `${host}\n${family}\n${hints}\n${all}\n${order}\n${verbatim}`;
  const waiting = underWay.get(key);
  if (waiting !== undefined) {
    waiting.push(callback);
    return;
  }
  const callbacks = [callback];
  dns.lookup(host, options, (err, address, family) => {
    underWay.delete(key);
    // Each its own list: net goes through the addresses it was given as it tries them.
    for (const waiter of callbacks) waiter(err, Array.isArray(address) ? address.slice() : address, family);
  });
  // Only once the lookup is under way: one that threw (an option it refuses) leaves no entry
  // every later connection to the name would wait on for ever.
  underWay.set(key, callbacks);
}
