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
      : { store: { ...store, redis: { ...store.redis, url: hidePassword(store.redis.url) } } }),
    ...(tracing === undefined
      ? {}
      : { tracing: { ...tracing, otlpEndpoint: hidePassword(tracing.otlpEndpoint) } }),
  };
}

/** The URL with its password, when it has one, as `***` (the user name stays: it is no secret). */
function hidePassword(text: string): string {
  const url = URL.parse(text);
  if (url === null || url.password === '') return text;
  url.password = '***';
  return url.href;
}
