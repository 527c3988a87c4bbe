import { Resolver } from 'node:dns/promises';
import { parseTargetUrl } from '../../core/config/addresses.ts';
import type { DiscoveryConfig, TargetConfig } from '../../core/config/types.ts';
import type { TargetCheck } from './refused-targets.ts';

/** What one question to DNS gave: the targets, and how long the answer may be kept (seconds; undefined: not said). */
export interface DnsAnswer {
  readonly targets: readonly TargetConfig[];
  readonly ttl: number | undefined;
  /** Records left out, each with why (in order of the record's text): unusable (SRV target ".", port 0) or pointing where targets may not be. */
  readonly refused: readonly RefusedRecord[];
  /** Targets beyond `max_targets`, left out: those of the highest priorities first, then the last in order of origin. */
  readonly cut: number;
}

export interface RefusedRecord {
  /** The record as the answer gave it: "169.254.169.254" (A, AAAA) or ". 0" (SRV target and port). */
  readonly record: string;
  readonly why: string;
}

/** One question's wait for its answer, and how many times it is sent (node:dns's options). */
export const QUERY_OPTIONS = { timeout: 2_000, tries: 2 } as const;

/**
 * Codes by which a DNS server says nothing of the name (it could not answer, SERVFAIL, or would
 * not, REFUSED): the next server listed may, and glibc's resolver asks it. Node's resolver hands
 * them back at once (c-ares with ARES_FLAG_NOCHECKRESP) and asks the first server again at each
 * try, so a `resolvers` list whose first server SERVFAILs never reached the second.
 */
const ASK_NEXT = new Set(['ESERVFAIL', 'EREFUSED', 'ENOTIMP']);

/**
 * With two or more `resolvers`, one resolver on each, asked in turn when the resolver on them
 * all gets an ASK_NEXT code (which server gave it is not said: each is asked, in order).
 */
export function eachResolver(servers: readonly string[]): Resolver[] {
  if (servers.length < 2) return [];
  return servers.flatMap((server) => {
    const resolver = new Resolver(QUERY_OPTIONS);
    // A system server as getServers() spells it that setServers() will not take back is left out
    // of the turns, never a runner that cannot start.
    try {
      resolver.setServers([server]);
    } catch {
      return [];
    }
    return [resolver];
  });
}

/** What a server says of the name itself: the answer, whichever server gave it. */
const ANSWERED = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * `question` of `resolver`, then, at an ASK_NEXT failure, of each of `next` in turn: the first
 * answer (records, NXDOMAIN, none) is taken; when none answers, the first failure is told (a
 * server silent when asked alone, which the first round had passed over, does not turn a
 * SERVFAIL into a timeout).
 */
async function inTurn<T>(
  resolver: Resolver,
  next: readonly Resolver[],
  question: (r: Resolver) => Promise<T>,
): Promise<T> {
  try {
    return await question(resolver);
  } catch (err) {
    if (!ASK_NEXT.has((err as { code?: string }).code ?? '')) throw err;
    for (const other of next) {
      try {
        return await question(other);
      } catch (otherErr) {
        const code = (otherErr as { code?: string }).code ?? '';
        // Stopped (the runner's stop cancels every resolver): no further turn.
        if (ANSWERED.has(code) || code === 'ECANCELLED') throw otherErr;
      }
    }
    throw err;
  }
}

/** SRV weights run to 65535, a target's to 1000: larger ones are cut, 0 ("seldom") is the least, 1. */
const MAX_WEIGHT = 1000;

/**
 * Asks the configured resolvers for the upstream's name and turns the answer into targets:
 * an A or AAAA answer gives one target per address on the configured port; an SRV answer,
 * one per record, with its port, its weight and its priority (RFC 2782: a higher priority is
 * a fallback, which the balancer uses only when every target of the lower ones is out; see
 * targets/tiers.ts). The answer's smallest TTL is how long it holds. node:dns says no TTL for
 * SRV records: `ttl` is undefined then, and the owner asks again every `interval`.
 *
 * A record that cannot be a target (an SRV record's "." target, which says "no service",
 * or port 0) or that `check` refuses is left out and named in `refused`: the others stand.
 * At most `max_targets` targets are kept, so an answer's size cannot set the gateway's memory.
 * Rejects with the resolver's error (its `code`: ENODATA for an empty answer, ENOTFOUND,
 * ESERVFAIL, ETIMEOUT…). `next`: one resolver on each server (eachResolver), asked in turn
 * when `resolver` gets SERVFAIL or REFUSED.
 */
export async function askDns(
  resolver: Resolver,
  config: DiscoveryConfig,
  check: TargetCheck = () => undefined,
  next: readonly Resolver[] = [],
): Promise<DnsAnswer> {
  const scheme = config.scheme;
  const refused: RefusedRecord[] = [];
  const candidates: TargetConfig[] = [];
  const consider = (record: string, host: string, port: number, weight: number, priority = 0) => {
    // Port 0 is no port: URL parsing would take it.
    const made =
      port > 0
        ? target(`${scheme}://${hostPart(host)}:${port}`, weight, priority)
        : 'unusable record: port 0';
    const why = typeof made === 'string' ? made : check(made.hostname, made.port);
    if (why !== undefined) refused.push({ record, why });
    else candidates.push(made as TargetConfig);
  };
  let ttl: number | undefined;
  if (config.type === 'SRV') {
    const records = await inTurn(resolver, next, (r) => r.resolveSrv(config.dns));
    for (const r of records)
      consider(
        `${r.name || '.'} ${r.port}`,
        r.name,
        r.port,
        Math.min(MAX_WEIGHT, Math.max(1, r.weight)),
        r.priority,
      );
  } else {
    const records = await inTurn(resolver, next, (r) =>
      config.type === 'AAAA' ? r.resolve6(config.dns, { ttl: true }) : r.resolve4(config.dns, { ttl: true }),
    );
    for (const r of records) consider(r.address, r.address, config.port ?? 0, 1);
    ttl = records.length === 0 ? undefined : Math.min(...records.map((r) => r.ttl));
  }
  const targets = dedupe(candidates);
  const cut = Math.max(0, targets.length - config.maxTargets);
  // In order of the record's text, as the targets are in order of origin: a resolver that
  // rotates its records (BIND's cyclic order, CoreDNS's loadbalance) gives the same answer.
  refused.sort((a, b) => byText(a.record, b.record));
  return { targets: cut > 0 ? kept(targets, config.maxTargets) : targets, ttl, refused, cut };
}

function hostPart(host: string): string {
  const bare = host.replace(/\.$/, '');
  return bare.includes(':') ? `[${bare}]` : bare;
}

/** The target a record names, or why it names none. */
function target(url: string, weight: number, priority: number): TargetConfig | string {
  const parsed = parseTargetUrl(url);
  if ('problem' in parsed) return `unusable record: ${parsed.problem}`;
  // Named by its origin, as the health events, metrics, request log and Proxy-Status name it:
  // the resolver writes an IPv4-mapped address `::ffff:10.0.0.5`, a URL `[::ffff:a00:5]`.
  return { ...parsed.value, url: parsed.value.origin, weight, priority };
}

/** The first `max` targets by priority (the fallbacks are cut first), then by origin; in order of origin. */
function kept(targets: readonly TargetConfig[], max: number): TargetConfig[] {
  const preferred = [...targets].sort((a, b) => a.priority - b.priority || byText(a.origin, b.origin));
  return preferred.slice(0, max).sort((a, b) => byText(a.origin, b.origin));
}

/**
 * One target per origin (an answer may repeat an address, an SRV answer a name and port), of
 * the lowest priority named and, in it, the largest weight: not the first record's, which a resolver rotating its records
 * would change at every question, and every change rebuilds the upstream.
 */
function dedupe(targets: readonly TargetConfig[]): TargetConfig[] {
  const seen = new Map<string, TargetConfig>();
  for (const t of targets) {
    const had = seen.get(t.origin);
    const better =
      had === undefined ||
      t.priority < had.priority ||
      (t.priority === had.priority && t.weight > had.weight);
    if (better) seen.set(t.origin, t);
  }
  return [...seen.values()].sort((a, b) => byText(a.origin, b.origin));
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
