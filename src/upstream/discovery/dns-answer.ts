import type { Resolver } from 'node:dns/promises';
import { parseTargetUrl } from '../../core/config/addresses.ts';
import type { DiscoveryConfig, TargetConfig } from '../../core/config/types.ts';

/** What one question to DNS gave: the targets, and how long the answer may be kept (seconds; undefined: not said). */
export interface DnsAnswer {
  readonly targets: readonly TargetConfig[];
  readonly ttl: number | undefined;
}

/** SRV weights run to 65535, a target's to 1000: larger ones are cut, 0 ("seldom") is the least, 1. */
const MAX_WEIGHT = 1000;

/**
 * Asks the configured resolvers for the upstream's name and turns the answer into targets:
 * an A or AAAA answer gives one target per address on the configured port; an SRV answer,
 * one per record of the lowest priority (RFC 2782: the others are fallbacks), with its port
 * and its weight. The answer's smallest TTL is how long it holds. node:dns says no TTL for
 * SRV records: `ttl` is undefined then, and the owner asks again every `interval`.
 * Rejects with the resolver's error (its `code`: ENODATA for an empty answer, ENOTFOUND,
 * ESERVFAIL, ETIMEOUT…).
 */
export async function askDns(resolver: Resolver, config: DiscoveryConfig): Promise<DnsAnswer> {
  const scheme = config.scheme;
  if (config.type === 'SRV') {
    const records = await resolver.resolveSrv(config.dns);
    const lowest = Math.min(...records.map((r) => r.priority));
    const chosen = records.filter((r) => r.priority === lowest);
    const targets = chosen.map((r) =>
      target(`${scheme}://${hostPart(r.name)}:${r.port}`, Math.min(MAX_WEIGHT, Math.max(1, r.weight))),
    );
    return { targets: dedupe(targets), ttl: undefined };
  }
  const records =
    config.type === 'AAAA'
      ? await resolver.resolve6(config.dns, { ttl: true })
      : await resolver.resolve4(config.dns, { ttl: true });
  const targets = records.map((r) => target(`${scheme}://${hostPart(r.address)}:${config.port}`, 1));
  const ttl = records.length === 0 ? undefined : Math.min(...records.map((r) => r.ttl));
  return { targets: dedupe(targets), ttl };
}

function hostPart(host: string): string {
  const bare = host.replace(/\.$/, '');
  return bare.includes(':') ? `[${bare}]` : bare;
}

function target(url: string, weight: number): TargetConfig {
  const parsed = parseTargetUrl(url);
  if ('problem' in parsed)
    throw Object.assign(new Error(`unusable record: ${parsed.problem}`), { code: 'EBADRECORD' });
  return { url, ...parsed.value, weight };
}

/** One target per origin (an answer may repeat an address): the first record's weight. */
function dedupe(targets: readonly TargetConfig[]): TargetConfig[] {
  const seen = new Map<string, TargetConfig>();
  for (const t of targets) if (!seen.has(t.origin)) seen.set(t.origin, t);
  return [...seen.values()].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
}
