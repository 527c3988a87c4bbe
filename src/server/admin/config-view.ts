import { withoutPassword } from '../../core/config/fleet-values.ts';
import type { GatewayConfig } from '../../core/config/types.ts';

/**
 * The running config as `GET /config` shows it: every field as loaded, but the password a URL
 * may carry (`store.redis.url`, `redis://:${REDIS_PASSWORD}@…`; `tracing.otlp_endpoint`) as
 * `***`. Whoever holds the admin token reads the config to see what runs, not to learn the
 * store's or the collector's credentials.
 */
export function configView(config: GatewayConfig): GatewayConfig {
  const { store, tracing } = config;
  return {
    ...config,
    ...(store === undefined
      ? {}
      : { store: { ...store, redis: { ...store.redis, url: withoutPassword(store.redis.url) } } }),
    ...(tracing === undefined
      ? {}
      : { tracing: { ...tracing, otlpEndpoint: withoutPassword(tracing.otlpEndpoint) } }),
  };
}
