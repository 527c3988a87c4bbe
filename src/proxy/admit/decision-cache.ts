import { createHash } from 'node:crypto';
import type { ForwardCacheConfig } from '../../core/config/types.ts';
import { cookieValues } from '../../core/http1/cookie.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { joinedValue } from '../../core/net/downstream.ts';

/**
 * An auth service's verdicts, kept by a key of the request's (a session cookie, a token header)
 * for `ttl`, at most `maxEntries` of them, the oldest out first. Keys are kept as SHA-256
 * digests: a credential is never held in memory longer than its request, and an entry's size
 * does not grow with what a client sends. What is put in is the caller's choice: verdicts
 * only, never a failure of the hop (a failure cached would outlive the outage).
 */
export class DecisionCache<V> {
  readonly #config: ForwardCacheConfig;
  readonly #entries = new Map<string, { readonly value: V; readonly until: number }>();

  constructor(config: ForwardCacheConfig) {
    this.#config = config;
  }

  /**
   * The request's key, digested; undefined when it has no value for it (such a request is asked
   * every time). A cookie key is every copy of the cookie the service is sent, joined (`;` is
   * in no cookie value): keyed by the first, `session=good; session=forged` had the verdict on
   * `good` while the service, had it been asked, and the upstream may read the forged one.
   * The key holds the host the request names (`host`, and a proxy's X-Forwarded-Host) too: a
   * route of many hosts (a wildcard, tenants sharing an SSO cookie) has the service judge each
   * (X-Forwarded-Host), and a verdict for one host let the same cookie into every other. And
   * the client's address as the service is told it (`client`, the peer, after a proxy's
   * X-Forwarded-For and Forwarded): a service that judges it (Authelia's `networks` rules: one
   * factor from the office, two from elsewhere) had its verdict for the office let the same
   * cookie in from anywhere. And the scheme (`scheme`, the listener's, and a proxy's
   * X-Forwarded-Proto): a service that judges it (a session let in over https alone) had its
   * verdict for https let the same cookie in over http. A client's own X-Forwarded-* (dropped
   * on the way to the service, unless its peer is trusted) only keys its verdicts apart. And the
   * client certificate the service is told (`certificate`, its SHA-256 fingerprint; '' for none):
   * a service that judges it had its verdict for one certificate let the same cookie in with another.
   */
  keyOf(
    fields: FieldMap,
    host: string,
    client: string,
    scheme: string,
    certificate = '',
  ): string | undefined {
    const { key } = this.#config;
    let text: string | undefined;
    if (key.kind === 'cookie') {
      const values = cookieValues(fields.cookie, key.name);
      text = values.length === 1 ? values[0] : values.some((v) => v !== '') ? values.join(';') : undefined;
    } else {
      const value = fields[key.name];
      text = joinedValue(value);
    }
    if (text === undefined || text === '') return undefined;
    const said = (name: string): string => {
      const value = fields[name];
      return joinedValue(value) ?? '';
    };
    const whence = `${client}\0${said('x-forwarded-for')}\0${said('forwarded')}\0${certificate}`;
    // Joined by a NUL, which no field value, host or address holds.
    return createHash('sha256')
      .update(`${scheme}\0${said('x-forwarded-proto')}\0${host}\0${said('x-forwarded-host')}\0${whence}\0`)
      .update(text)
      .digest('base64');
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, now: number): void {
    const entries = this.#entries;
    entries.delete(key);
    // Insertion order is age order: the first key is the oldest.
    while (entries.size >= this.#config.maxEntries) entries.delete(entries.keys().next().value as string);
    entries.set(key, { value, until: now + this.#config.ttl });
  }

  get size(): number {
    return this.#entries.size;
  }
}
