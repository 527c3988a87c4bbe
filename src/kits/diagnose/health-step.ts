/**
 * For a target of an upstream with `health_check`: the gateway's own health probe
 * (src/upstream/health/probe.ts, on the upstream's connector), as its checks send it. A target
 * that answers the probe's request but fails its check is held out of rotation by the gateway
 * (after `fall` checks in a row), so "none needed" would be untrue there: the verdict says so.
 */
import type { UpstreamConfig } from '../../core/config/types.ts';
import { hostPort } from '../../core/net/host-port.ts';
import { describeRanges, serviceHost, startProbe } from '../../upstream/health/probe.ts';
import { connectorOf } from '../../upstream/targets/upstream.ts';
import type { ProbePlan } from './plan.ts';
import type { Step, TargetReport } from './types.ts';

type HealthStep = Extract<Step, { step: 'health' }>;

/** The upstream's targets probed before this one (diagnose.ts): how many, and how many passed their check. */
export interface ChecksSoFar {
  readonly total: number;
  readonly probed: number;
  readonly passed: number;
}

/** The probe's health step and the report it changes; the report as it was without `health_check`. */
export async function withHealthCheck(
  report: TargetReport,
  plan: ProbePlan,
  upstream: UpstreamConfig | undefined,
  onStep: (step: Step) => void,
  soFar: ChecksSoFar = { total: 1, probed: 0, passed: 0 },
): Promise<TargetReport> {
  const check = upstream?.healthCheck;
  // A probe that failed already names what the check would meet first.
  if (upstream === undefined || check === undefined || report.verdict.outcome === 'failure') return report;
  const origin = `${plan.protocol}//${hostPort(plan.hostname, plan.port)}`;
  const target = upstream.targets.find((one) => one.origin === origin) ?? {
    url: origin,
    protocol: plan.protocol,
    hostname: plan.hostname,
    port: plan.port,
    origin,
    weight: 1,
    priority: 0,
  };
  const connector = connectorOf(upstream);
  const result = await startProbe(target, check, connector, upstream.protocol).result;
  const request = `${check.method} ${check.path}`;
  const step: HealthStep = {
    step: 'health',
    ok: result.ok,
    ms: Math.round(result.ms * 10) / 10,
    summary: result.ok
      ? `${request}: ${result.status}`
      : `${request}: ${result.failure?.details ?? 'failed'}`,
    notes: [],
    facts: {
      method: check.method,
      path: check.path,
      host: serviceHost(check, target),
      expectStatus: describeRanges(check.expectStatus),
      status: result.status ?? null,
      failure: result.ok ? null : (result.failure?.type ?? 'unknown'),
      details: result.ok ? null : (result.failure?.details ?? null),
    },
  };
  onStep(step);
  const steps = [...report.steps, step];
  if (result.ok || report.verdict.outcome !== 'ok') return { ...report, steps };
  // Fewer than panic_threshold percent of the targets pass, whatever the ones not yet probed
  // do: the gateway ignores the checks and sends to this one all the same. Priorities judge it
  // per tier (tiers.ts), which the count below does not: there the general words stay.
  const failed = soFar.probed - soFar.passed + 1;
  const oneTier = upstream.targets.every((one) => one.priority === upstream.targets[0]?.priority);
  const panicked =
    upstream.panicThreshold > 0 &&
    oneTier &&
    (soFar.total - failed) * 100 < upstream.panicThreshold * soFar.total;
  if (panicked)
    return {
      ...report,
      steps,
      verdict: {
        ...report.verdict,
        summary: `${report.verdict.summary}; but it fails the gateway's health check, as do ${failed} of the upstream's ${soFar.total} targets: below panic_threshold (${upstream.panicThreshold}%), the gateway ignores the checks and sends to it all the same`,
        fix: `the target answers ${plan.method} ${plan.path}, but fails the gateway's health check (health_check ${request}: ${step.facts.details}), as do ${failed} of the upstream's ${soFar.total} targets: fewer than panic_threshold (${upstream.panicThreshold}%) pass, so the gateway is in panic, ignores the checks and sends requests to them all the same (their log lines say "panic":true). Fix what the health endpoint reports, or set health_check.path (or expect_status) to what the target answers when it is well.`,
      },
    };
  const panic =
    upstream.panicThreshold === 0
      ? ''
      : ` (unless fewer than ${upstream.panicThreshold}% of the upstream's targets pass theirs: then it ignores the checks, panic_threshold)`;
  return {
    ...report,
    steps,
    verdict: {
      ...report.verdict,
      summary: `${report.verdict.summary}; but it fails the gateway's health check, which takes it out of rotation`,
      fix: `the target answers ${plan.method} ${plan.path}, but fails the gateway's health check (health_check ${request}: ${step.facts.details}): the gateway takes it out of rotation after ${check.fall} failed checks in a row, and sends it no request until ${check.rise} pass${panic}. Fix what the health endpoint reports, or set health_check.path (or expect_status) to what the target answers when it is well.`,
    },
  };
}
