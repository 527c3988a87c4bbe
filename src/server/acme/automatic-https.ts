import type { AcmeConfig, GatewayConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { AutomaticHttps, AutomaticHttpsOptions } from './ordering-https.ts';

export type { AutomaticHttps } from './ordering-https.ts';

/**
 * Every name a listener orders, once: an apex listed beside its wildcard is not a name of its
 * own, the wildcard's certificate carries it (managed-name.ts's certificateNames).
 */
export function acmeNames(config: GatewayConfig): string[] {
  const names = new Set(config.listen.flatMap((listener) => listener.tls?.acme?.names ?? []));
  return [...names].filter((name) => !names.has(`*.${name}`));
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
  return ordering.orderingHttps(
    config,
    answerableAcme(config, config.acme),
    acmeNames(config),
    logger,
    options,
  );
}

/**
 * `acme` with the challenges this gateway can answer: HTTP-01 is answered on a plain listener
 * only (acme-challenge.ts), so with none it is left out and TLS-ALPN-01 is used, where the
 * default list's first choice was an HTTP-01 nothing answers (every order failed). HTTP-01
 * alone is kept: that config is a `candor check` warning, and its orders fail saying why.
 * `candor diagnose --acme` checks what the orders use.
 */
export function answerableAcme(config: GatewayConfig, acme: AcmeConfig): AcmeConfig {
  if (config.listen.some((listener) => listener.tls === undefined)) return acme;
  const challenges = acme.challenges.filter((challenge) => challenge !== 'http-01');
  return challenges.length === 0 ? acme : { ...acme, challenges };
}

/** Whether `next` orders what `before` did, where and how (a reload then keeps automatic HTTPS as it runs). */
export function sameHttps(before: GatewayConfig, next: GatewayConfig): boolean {
  // A plain listener added or taken away changes the challenges (answerable) as acme would.
  return (
    JSON.stringify(before.acme && answerableAcme(before, before.acme)) ===
      JSON.stringify(next.acme && answerableAcme(next, next.acme)) &&
    JSON.stringify(acmeNames(before)) === JSON.stringify(acmeNames(next))
  );
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
  if (sameHttps(before, next)) return current;
  current?.stop();
  const replaced = create();
  if (start) replaced?.start();
  return replaced;
}
