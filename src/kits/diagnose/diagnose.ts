/**
 * `candor diagnose` as a function: probe every target TARGET names, optionally the same
 * request through the gateway, and say which hop fails and what fixes it.
 *
 * @example
 * const report = await diagnose({ target: 'http://127.0.0.1:3001/health' });
 * report.targets[0].verdict.summary; // "unreachable / connection_refused → Candor answers 502"
 */
import { type Comparison, compare } from './compare.ts';
import { type ChecksSoFar, withHealthCheck } from './health-step.ts';
import type { ProbePlan } from './plan.ts';
import { probe } from './probe.ts';
import { withRouteWaits } from './route-waits.ts';
import { type DiagnoseOptions, planTargets, planVia } from './targets.ts';
import type { Outcome, Step, TargetReport } from './types.ts';

/**
 * Exit statuses: 0 the target answers like an HTTP server should (a valid response below
 * 500), 1 it answers with its own 5xx, 2 a failure Candor would turn into 502/503/504 (or
 * a body cut short). The command line adds 64 (usage) and 78 (invalid config).
 */
export const OUTCOME_EXIT: Readonly<Record<Outcome, number>> = { ok: 0, upstream_error: 1, failure: 2 };

export interface DiagnoseReport {
  readonly target: string;
  /** The config file the upstream came from. */
  readonly config: string | null;
  readonly targets: readonly TargetReport[];
  /** The same request through the gateway (--compare / --via). */
  readonly via: TargetReport | null;
  readonly comparison: Comparison | null;
  readonly exitCode: number;
}

/** Progress, for printing each step as it happens. */
export interface DiagnoseEvents {
  /** Every probe about to run, before the first one starts. */
  planned?(plans: readonly ProbePlan[]): void;
  begin?(plan: ProbePlan, index: number, total: number): void;
  step?(step: Step, plan: ProbePlan): void;
  end?(report: TargetReport, plan: ProbePlan): void;
}

export async function diagnose(
  options: DiagnoseOptions,
  events: DiagnoseEvents = {},
): Promise<DiagnoseReport> {
  const plans = planTargets(options);
  const viaPlan = options.via === undefined ? undefined : planVia(options, plans[0]);
  const all = viaPlan ? [...plans, viaPlan] : plans;
  events.planned?.(all);
  const reports: TargetReport[] = [];
  for (const [index, plan] of all.entries()) {
    events.begin?.(plan, index, all.length);
    const onStep = (step: Step) => events.step?.(step, plan);
    const probed = await probe(plan, onStep);
    const upstream = plan.upstream === null ? undefined : options.config?.upstreams[plan.upstream];
    const report = plan.viaGateway
      ? probed
      : withRouteWaits(
          await withHealthCheck(probed, plan, upstream, onStep, checksSoFar(plans, reports, plan)),
          options.config,
        );
    events.end?.(report, plan);
    reports.push(report);
  }
  const targets = viaPlan ? reports.slice(0, -1) : reports;
  const via = viaPlan ? (reports.at(-1) as TargetReport) : null;
  return {
    target: options.target,
    config: options.config?.source ?? null,
    targets,
    via,
    comparison: via ? compare(targets, via) : null,
    exitCode: Math.max(...reports.map((report) => OUTCOME_EXIT[report.verdict.outcome])),
  };
}

/**
 * The upstream's targets as far as the probes have gone: how many there are, how many were
 * probed before this one and how many of those passed the gateway's check (a target that did
 * not answer the request fails it too), so that a target's verdict can tell a panic for
 * certain (docs/resilience.md, "Panic").
 */
function checksSoFar(
  plans: readonly ProbePlan[],
  done: readonly TargetReport[],
  plan: ProbePlan,
): ChecksSoFar {
  const same = (one: { upstream: string | null; viaGateway: boolean }) =>
    !one.viaGateway && one.upstream === plan.upstream;
  const before = done.filter(same);
  const passed = before.filter((report) => report.steps.some((step) => step.step === 'health' && step.ok));
  return { total: plans.filter(same).length, probed: before.length, passed: passed.length };
}
