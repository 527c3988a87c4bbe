import { configHash } from '../../core/config/config-hash.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { hostPort } from '../../core/net/host-port.ts';
import { pushedBy } from '../../observe/events/event-words.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { FleetCanary } from '../fleet/fleet-canary.ts';
import type { FleetSource } from '../fleet/fleet-source.ts';
import type { FleetStart } from '../fleet/fleet-start.ts';
import type { ClusterControl } from './cluster-control.ts';
import { pushedFields } from './cluster-reloads.ts';

/** What a fleet's gateway follows once it serves; empty until then, and on a standalone one. */
export interface FleetFollowing {
  source?: FleetSource;
  canary?: FleetCanary;
}

/**
 * Follows the fleet's etcd key (a revision pushed there is reloaded) and writes this gateway's
 * record under the key's prefix; what it starts is kept in `into`, for the primary to stop.
 */
export async function followSource(
  start: FleetStart,
  ports: readonly number[],
  config: GatewayConfig,
  control: ClusterControl,
  logger: Logger,
  into: FleetFollowing,
): Promise<void> {
  const [{ FleetSource }, { fleetStatus }, { FleetCanary }] = await Promise.all([
    import('../fleet/fleet-source.ts'),
    import('../fleet/fleet-status.ts'),
    import('../fleet/fleet-canary.ts'),
  ]);
  const address = config.listen.map((l, i) => hostPort(l.host, ports[i])).join(' ');
  const source = new FleetSource(
    start,
    configHash(config),
    address,
    (pushed) =>
      control.reload({
        via: 'etcd',
        who: pushedBy(pushed.revision, pushed.author, pushed.rollback_of),
        pushed,
      }),
    // Every push is in the timeline, one of the document running too (nothing reloaded for it).
    ({ config_hash, ...pushed }) => {
      const none = { added: [], removed: [], changed: [] };
      control.timeline.record({
        kind: 'reload',
        via: 'etcd',
        config_hash,
        ...pushedFields(pushed),
        same_document: true,
        routes: none,
        upstreams: none,
        targets: {},
      });
    },
    logger,
  );
  into.source = source;
  control.configSource = () => into.source?.status();
  control.fleet = () => fleetStatus(start.client, start.bootstrap.etcd.key);
  source.start();
  // A config canary (candor config push --canary): taken here if this gateway is one of it,
  // counted on every gateway, judged by one of them.
  into.canary = new FleetCanary(
    source,
    start.client,
    start.bootstrap.etcd.key,
    start.bootstrap.name,
    () => control.gatewayCounts(),
    logger,
  );
  into.canary.start();
}
