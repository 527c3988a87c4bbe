import { DEFAULTS } from './defaults.ts';
import type { RawConfig } from './schema.ts';
import type { DiscoveryConfig, StoreConfig } from './types.ts';
import { parseDuration } from './units.ts';

type RawStore = NonNullable<RawConfig['store']>;
type RawDiscovery = NonNullable<NonNullable<RawConfig['upstreams']>[string]['discovery']>;

const duration = (text: string | undefined, fallback: number): number =>
  text === undefined ? fallback : (parseDuration(text) ?? fallback);

/** `store` in runtime units, its defaults filled in (normalize.ts does the rest of the file). */
export function toStore(raw: RawStore): StoreConfig {
  const fallback = DEFAULTS.store;
  return {
    redis: {
      url: raw.redis.url,
      onError: raw.redis.on_error ?? fallback.onError,
      timeout: duration(raw.redis.timeout, fallback.timeout),
      prefix: raw.redis.prefix ?? fallback.prefix,
    },
  };
}

export function toDiscovery(raw: RawDiscovery): DiscoveryConfig {
  const fallback = DEFAULTS.discovery;
  return {
    dns: raw.dns,
    type: raw.type ?? fallback.type,
    ...(raw.port === undefined ? {} : { port: raw.port }),
    scheme: raw.scheme ?? fallback.scheme,
    resolvers: [...(raw.resolvers ?? [])],
    interval: duration(raw.interval, fallback.interval),
    minTtl: duration(raw.min_ttl, fallback.minTtl),
    maxTtl: duration(raw.max_ttl, fallback.maxTtl),
    allow: [...(raw.allow ?? [])],
    maxTargets: raw.max_targets ?? fallback.maxTargets,
  };
}
