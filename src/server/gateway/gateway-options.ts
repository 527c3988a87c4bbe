import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { ClusterLink } from './cluster-link.ts';
import type { GivenPlugin } from './plugins.ts';
import type { RuntimeChange } from './runtime-changes.ts';
import type { GivenStages } from './stage-builders.ts';

/** What a program (or a cluster worker) gives startGateway beside the config. */
export interface GatewayOptions {
  /** Use this logger instead of the one the config describes (tests capture lines this way). */
  readonly logger?: Logger;
  /** Runtime changes in force at start (a worker started after they were made). */
  readonly changes?: readonly RuntimeChange[];
  /**
   * Serve `metrics.listen` from this process (the default). A cluster worker does not: the
   * primary serves every worker's metrics, merged.
   */
  readonly serveMetrics?: boolean;
  /**
   * Count into these metrics instead of new ones: a cluster worker makes them before it
   * starts, so that it answers the primary's scrapes from its first moment.
   */
  readonly metrics?: GatewayMetrics;
  /**
   * A cluster worker's link to its primary (cluster-link.ts): health checks and rate limits
   * are the primary's, split limits take this worker's share, ejections and open circuits
   * are told to the other workers. Without it (in-process) every limit and check is local.
   */
  readonly cluster?: ClusterLink;
  /**
   * The program's own stages for a route (stage.ts), run after Candor's own, in their order: built
   * anew for each config the gateway loads (a reload calls it again), so a stage holds the route it serves.
   */
  readonly stages?: GivenStages;
  /**
   * Plugins the program gives as objects (docs/plugins.md), by the name `plugins:` gives them in
   * the config: each takes the place of the module of that name (its options, timeout and
   * on_error are the config's). A factory is called once per config load, as a module's is.
   */
  readonly plugins?: Readonly<Record<string, GivenPlugin>>;
}
