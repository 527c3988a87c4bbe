import type { GatewayConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { AutomaticHttps, AutomaticHttpsOptions } from './ordering-https.ts';

export type { AutomaticHttps } from './ordering-https.ts';

/** Every name a listener orders, once. */
export function acmeNames(config: GatewayConfig): string[] {
  return [...new Set(config.listen.flatMap((listener) => listener.tls?.acme?.names ?? []))];
}

/**
 * The ACME client, its store and what orders certificates (jose, node:https, the CSR writer:
 * about 20 MB of a process's memory) are loaded by the first config that has `acme`, not by
 * every gateway process: `await loadAutomaticHttps(config)` before createAutomaticHttps, as
 * before anything of a reload changes.
 */
let ordering: typeof import('./ordering-https.ts') | undefined;

export async function loadAutomaticHttps(config: GatewayConfig): Promise<void> {
  if (config.acme !== undefined) ordering ??= await import('./ordering-https.ts');
}

/**
 * The certificates of `listen[].tls.acme.names` (ordering-https.ts), or undefined when the
 * config orders nothing.
 */
export function createAutomaticHttps(
  config: GatewayConfig,
  logger: Logger,
  options: AutomaticHttpsOptions,
): AutomaticHttps | undefined {
  if (config.acme === undefined) return undefined;
  if (ordering === undefined) throw new Error('createAutomaticHttps before loadAutomaticHttps(config)');
  return ordering.orderingHttps(config, config.acme, acmeNames(config), logger, options);
}

/**
 * A reload that changes what is ordered (the names, or where and how) starts automatic HTTPS
 * anew on the new config: what the store holds is read again, nothing is ordered twice.
 */
export function replaceHttps(
  current: AutomaticHttps | undefined,
  before: GatewayConfig,
  next: GatewayConfig,
  create: () => AutomaticHttps | undefined,
  start = true,
): AutomaticHttps | undefined {
  const same =
    JSON.stringify(before.acme) === JSON.stringify(next.acme) &&
    JSON.stringify(acmeNames(before)) === JSON.stringify(acmeNames(next));
  if (same) return current;
  current?.stop();
  const replaced = create();
  if (start) replaced?.start();
  return replaced;
}
