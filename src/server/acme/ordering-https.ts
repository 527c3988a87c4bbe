import type { AcmeConfig, GatewayConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { AcmeOrderOutcome } from '../../observe/metrics/metrics.ts';
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

export interface AutomaticHttpsOptions {
  /** This process orders (the in-process gateway, or a cluster's primary). */
  readonly order: boolean;
  /** A certificate this process ordered landed (the primary tells its workers). */
  readonly told?: (name: string) => void;
  /** An order ended, either way (for the metrics: counted here, or by one worker). */
  readonly ordered?: (outcome: AcmeOrderOutcome) => void;
}

/**
 * The certificates of `names` (the config's `listen[].tls.acme.names`): read from `acme.storage` at start, served by
 * SNI, and, in the one process of the gateway that orders (`order`: the in-process gateway, or
 * a cluster's primary), ordered and renewed. Only for a config with `acme` (automatic-https.ts
 * loads this module for it).
 */
export function orderingHttps(
  config: GatewayConfig,
  acme: AcmeConfig,
  names: readonly string[],
  logger: Logger,
  { order, told, ordered }: AutomaticHttpsOptions,
): AutomaticHttps {
  const store = new AcmeStore(acme.storage);
  store.open();
  // With `store.redis`, one order for the fleet (acme-fleet.ts); a Redis that cannot be reached
  // leaves this gateway ordering alone, as if it had no fleet.
  const fleet =
    config.store === undefined
      ? undefined
      : AcmeFleet.open(config.store.redis, acme.directory).catch((err: Error) => {
          logger.warn(
            { err: err.message },
            'the fleet store cannot be used for certificates: ordering alone',
          );
          return undefined;
        });
  const certificates = new OrderedCertificates(store, names, fleet);
  certificates.load(names);
  const manager = order
    ? new AcmeManager(
        acme,
        names,
        store,
        logger,
        {
          issued: (name) => {
            certificates.load([name]);
            told?.(name);
          },
          ordered: (outcome) => ordered?.(outcome),
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
