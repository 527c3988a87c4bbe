import type { ConfigProblem } from '../../core/config/config-error.ts';
import type { FleetStart } from '../fleet/fleet-start.ts';

/** What `candor serve` tells the primary beside its config (primary.ts's runPrimary). */
export interface PrimaryOptions {
  /** The demo's banner, once the first worker listens. */
  readonly announce?: (where: {
    gatewayPort: number;
    /** Every listener's bound port, in the config's order. */
    ports: readonly number[];
    adminPort: number | undefined;
  }) => void;
  /** `--pid-file`: where to write this process's pid while it runs. */
  readonly pidFile?: string;
  /** A fleet's gateway: the etcd source it started on (serve-fleet.ts), followed from there. */
  readonly fleet?: {
    readonly start: FleetStart;
    readonly notes: readonly string[];
    /** A problem of the composed file told where it was written: the etcd document's line, or the bootstrap's. */
    readonly place: (problem: ConfigProblem) => ConfigProblem;
  };
}
