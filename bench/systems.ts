/**
 * The systems under test, one interface: each starts on its own port, pinned to the proxy
 * CPU, forwarding `/fail` to the refused port and everything else to the origin.
 */
import type { PinnedProcess } from './process.ts';

export interface SystemContext {
  /** A private folder (mode 0755) for the system's config and logs. */
  readonly dir: string;
  /** Where the system must listen, on 127.0.0.1. */
  readonly port: number;
  readonly originPort: number;
  /** A port nothing listens on: connections to it are refused. */
  readonly deadPort: number;
  readonly workers: number;
  /** The CPU list (taskset -c) the system runs on. */
  readonly cpu: string;
}

export interface RunningSystem {
  readonly port: number;
  /** Undefined for "direct", which has no process of its own. */
  readonly process: PinnedProcess | undefined;
  /** The access log, emptied between measurements so the disk does not fill. */
  readonly accessLog: string | undefined;
}

/** `ceiling`: the raw node:net proxy, what a Node proxy can do without node:http (Candor's yardstick). */
export type SystemGroup = 'baseline' | 'c' | 'node' | 'ceiling' | 'candor';

export interface SystemDefinition {
  readonly id: string;
  readonly label: string;
  readonly group: SystemGroup;
  /** One line on how it is configured, for RESULTS.md. */
  readonly setup: string;
  start(context: SystemContext): Promise<RunningSystem>;
}
