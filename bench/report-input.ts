/**
 * What a report is made of: the systems as named, the cells measured, the all-cores section. Types
 * only, apart from the modules that fill them (run.ts, all-cores.ts) and those that write them
 * (report.ts, report-tables.ts), so that neither side imports the other for a shape.
 */
import type { MachineInfo } from './machine.ts';
import type { Cell } from './measure.ts';
import type { BenchOptions } from './options.ts';
import type { Scenario } from './scenarios.ts';
import type { SoakOutcome } from './soak.ts';
import type { SystemGroup } from './systems.ts';

export interface ReportSystem {
  readonly id: string;
  readonly label: string;
  readonly group: SystemGroup;
  readonly setup: string;
  readonly skipped: string | undefined;
}

export interface ReportInput {
  readonly command: string;
  readonly options: BenchOptions;
  readonly machine: MachineInfo;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly systems: readonly ReportSystem[];
  readonly scenarios: readonly Scenario[];
  readonly cells: readonly Cell[];
  readonly allCores: AllCoresResult;
  readonly soak: SoakOutcome;
}

export interface AllCoresSection {
  /** Workers (threads for HAProxy) per proxy: the number of CPUs. */
  readonly workers: number;
  /** The CPU list (taskset -c) the proxies ran on. */
  readonly cpus: string;
  readonly scenarios: readonly Scenario[];
  readonly systems: readonly ReportSystem[];
  readonly cells: readonly Cell[];
}

/** The section as measured, or why it was not. */
export type AllCoresResult = AllCoresSection | { readonly skipped: string };
