import type { GatewayConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { AcmeFleet } from './acme-fleet.ts';
import { AcmeManager, type CertificateStatus } from './acme-manager.ts';
import { AcmeStore } from './acme-store.ts';
import { OrderedCertificates } from './ordered-certificates.ts';

/** Automatic HTTPS as a gateway process holds it. */
export interface AutomaticHttps {
  /** What the listeners serve by SNI and the request path answers of a validation. */
  readonly certificates: OrderedCertificates;
  /** Starts ordering what is missing or due (in the process that orders). */
  start(): void;
  /** A certificate landed (ordered here, or told by the process that ordered it): serve it from now on. */
  issued(name: string): void;
  /** Each name's certificate; empty in a process that does not order (a cluster worker). */
  status(): CertificateStatus[];
  stop(): void;
}

/** Every name a listener orders, once. */
export function acmeNames(config: GatewayConfig): string[] {
  return [...new Set(config.listen.flatMap((listener) => listener.tls?.acme?.names ?? []))];
}

/**
 * The certificates of `listen[].tls.acme.names`: read from `acme.storage` at start, served by
 * SNI, and, in the one process of the gateway that orders (`order`: the in-process gateway, or
 * a cluster's primary), ordered and renewed. Undefined when the config orders nothing.
 */
export function createAutomaticHttps(
  config: GatewayConfig,
  logger: Logger,
  { order, told }: { order: boolean; told?: (name: string) => void },
): AutomaticHttps | undefined {
  if (config.acme === undefined) return undefined;
  const names = acmeNames(config);
  const store = new AcmeStore(config.acme.storage);
  store.open();
  // With `store.redis`, one order for the fleet (acme-fleet.ts); a Redis that cannot be reached
  // leaves this gateway ordering alone, as if it had no fleet.
  const fleet =
    config.store === undefined
      ? undefined
      : AcmeFleet.open(config.store.redis).catch((err: Error) => {
          logger.warn(
            { err: err.message },
            'the fleet store cannot be used for certificates: ordering alone',
          );
          return undefined;
        });
  const certificates = new OrderedCertificates(store, fleet);
  certificates.load(names);
  const manager = order
    ? new AcmeManager(
        config.acme,
        names,
        store,
        logger,
        (name) => {
          certificates.load([name]);
          told?.(name);
        },
        fleet,
      )
    : undefined;
  return {
    certificates,
    start: () => manager?.start(),
    issued: (name) => certificates.load([name]),
    status: () => manager?.status() ?? [],
    stop: () => {
      manager?.stop();
      void fleet?.then((open) => open?.close());
    },
  };
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
