/**
 * A config canary judged: at each look (one a window) the counts every gateway wrote since the
 * last one, the canary gateways' as one side and the rest's as the other, go to the one judge
 * the route canaries have (upstream/canary: StepLooks over judge.ts, the confidence split over
 * the planned looks), so "worse" means what it means for a route. A canary gateway that is gone
 * (its lease ended), restarted, refused the revision or left it is a failed canary: the safe
 * side, since a config that kills its gateway shows no counts at all.
 */

import { DEFAULTS } from '../../core/config/defaults.ts';
import {
  addSide,
  emptyWindow,
  type SideCounts,
  sideOf,
  type WindowCounts,
} from '../../upstream/canary/canary-window.ts';
import { formatP, type JudgeSettings, type MetricVerdict } from '../../upstream/canary/judge.ts';
import { StepLooks } from '../../upstream/canary/step-looks.ts';
import type { Canary, CountsRecord, GatewayRecord } from './fleet-keys.ts';

/** What a look came to: nothing yet, a look's summary while it runs, or its end with the one line saying why. */
export type Decision =
  | { readonly kind: 'wait'; readonly why: string }
  | { readonly kind: 'looked'; readonly look: number; readonly looks: number; readonly line: string }
  | {
      readonly kind: 'rollback' | 'promote';
      readonly verdict: string;
      readonly look?: number;
      readonly looks?: number;
    };

/**
 * The route canaries' settings, but for the window and the time the push names, and one metric
 * more: `gateway_error`, the requests a gateway answered with its own 500 (a plugin threw or
 * overran, a gateway bug). A route's plugins are neither side of a route canary; of a config
 * canary they are what is judged, and a request they fail made no attempt the rest count.
 */
export function judgeConfig(canary: Canary): JudgeSettings {
  const d = DEFAULTS.canary;
  return {
    upstream: '',
    steps: [50],
    stepInterval: canary.judge_for_ms,
    checkInterval: canary.window_ms,
    minRequests: canary.min_requests,
    maxDuration: canary.judge_for_ms,
    compare: [...d.compare, 'gateway_error'],
    confidence: d.confidence,
    latencyMargin: d.latencyMargin,
    latencyP99Factor: d.latencyP99Factor,
    baselineMaxFailedPercent: d.baselineMaxFailedPercent,
    onFailure: 'rollback',
    onSuccess: 'promote',
  };
}

export class CanaryJudge {
  readonly revision: number;
  readonly #config: JudgeSettings;
  readonly #looks: StepLooks;
  /** Each gateway's total at the last look, with its process: the next look takes what it has more. */
  readonly #last = new Map<string, { pid: number; total: SideCounts }>();
  /** Each canary gateway's process, as first seen running the canary: another one is a restart. */
  readonly #pids = new Map<string, number>();
  /** Since when (Date.now()) every canary gateway runs it; undefined before. */
  #judgingSince: number | undefined;
  /** When this gateway began judging it (Date.now()): a judge that takes over waits from then. */
  readonly #createdAt: number;

  constructor(canary: Canary) {
    this.revision = canary.revision;
    this.#config = judgeConfig(canary);
    this.#looks = new StepLooks(this.#config);
    this.#createdAt = Date.now();
  }

  /** One look: the gateways' records and counts now. */
  look(canary: Canary, records: readonly GatewayRecord[], counts: readonly CountsRecord[]): Decision {
    const gone = this.#failedGateway(canary, records);
    if (gone !== undefined) return { kind: 'rollback', verdict: gone };
    const live = new Map(records.map((r) => [r.name, r]));
    const waiting = canary.gateways.filter((name) => live.get(name)?.revision !== canary.revision);
    if (this.#judgingSince === undefined && waiting.length > 0) {
      if (Date.now() - this.#createdAt > canary.judge_for_ms)
        return {
          kind: 'rollback',
          verdict: `${waiting.join(', ')} did not run revision ${canary.revision} within ${canary.judge_for_ms} ms`,
        };
      return { kind: 'wait', why: `waiting for ${waiting.join(', ')} to run it` };
    }
    // Every canary gateway runs it: judged from this look on (the first has what they counted
    // since; one short of requests decides nothing and spends none of the confidence).
    if (this.#judgingSince === undefined) {
      this.#judgingSince = Date.now();
      for (const name of canary.gateways) this.#pids.set(name, live.get(name)?.pid ?? 0);
    }
    const look = this.#looks.look(this.#taken(canary, counts));
    const judged = look.judged;
    const at = { look: look.index, looks: look.planned };
    if (judged.decided && judged.worse !== undefined)
      return { kind: 'rollback', verdict: worseLine(judged.worse), ...at };
    if (!judged.decided) {
      const short = `${judged.requests.canary} requests on the canary, ${judged.requests.baseline} on the rest${judged.answers === undefined ? '' : ` (${judged.answers} answered on the canary)`}, ${canary.min_requests} needed on each side`;
      if (look.last)
        return {
          kind: 'rollback',
          verdict: `too few requests to judge within ${canary.judge_for_ms} ms: ${short}`,
          ...at,
        };
      return { kind: 'looked', ...at, line: `not judged yet: ${short}` };
    }
    const figures = judged.metrics.filter(shown).map(metricFigures).join('; ');
    if (!look.last) return { kind: 'looked', ...at, line: `no worse so far: ${figures}` };
    const failed = (100 * judged.baselineFailed) / judged.requests.baseline;
    if (failed > this.#config.baselineMaxFailedPercent)
      return {
        kind: 'rollback',
        verdict: `inconclusive: the rest failed ${judged.baselineFailed}/${judged.requests.baseline} (${failed.toFixed(2)}%) of their requests, more than ${this.#config.baselineMaxFailedPercent}%: a canary no worse than them is not shown healthy`,
        ...at,
      };
    return {
      kind: 'promote',
      verdict: `held for ${canary.judge_for_ms} ms, no metric worse: ${figures}`,
      ...at,
    };
  }

  /** A canary gateway that is gone, restarted, refused the revision or left it: why, or undefined. */
  #failedGateway(canary: Canary, records: readonly GatewayRecord[]): string | undefined {
    for (const name of canary.gateways) {
      const record = records.find((r) => r.name === name);
      if (record === undefined)
        return `canary gateway ${name} is gone (its lease ended: it stopped, died or lost etcd)`;
      if (record.refused?.revision === canary.revision)
        return `canary gateway ${name} refused revision ${canary.revision}: ${record.refused.problems[0] ?? ''}`;
      if (this.#judgingSince === undefined) continue;
      const pid = this.#pids.get(name);
      if (pid !== undefined && pid !== record.pid)
        return `canary gateway ${name} restarted while it ran revision ${canary.revision} (pid ${pid}, now ${record.pid})`;
      if (record.revision !== canary.revision)
        return `canary gateway ${name} left revision ${canary.revision} (it runs ${record.revision})`;
    }
    return undefined;
  }

  /** What each gateway counted since the last look, the canary gateways' as one side, the rest's as the other. */
  #taken(canary: Canary, counts: readonly CountsRecord[]): WindowCounts {
    const window = emptyWindow();
    for (const record of counts) {
      const total = record.canary === canary.revision ? sideOf(record.total) : undefined;
      if (total === undefined) continue;
      const onCanary = canary.gateways.includes(record.gateway);
      // Counted while running what its side runs: a gateway of the rest that is behind is no baseline.
      if (record.revision !== (onCanary ? canary.revision : canary.from)) continue;
      const side = onCanary ? window.canary : window.baseline;
      const last = this.#last.get(record.gateway);
      addSide(side, total);
      // The same process with more counted: only what it has more is new (a new process begins again).
      if (last !== undefined && last.pid === record.pid && last.total.requests <= total.requests)
        addSide(side, last.total, -1);
      this.#last.set(record.gateway, { pid: record.pid, total });
    }
    return window;
  }
}

/** What each count is, for an operator who never configured a route canary (canary-window.ts counts them). */
const GLOSS: Readonly<Record<string, string>> = {
  unreachable: 'unreachable (502: connection refused or failed)',
  slow: 'slow (504: no answer in time)',
  reset: 'reset (502: connection cut)',
  garbage: 'garbage (502: an answer that is not HTTP)',
  status_5xx: "status_5xx (the upstreams' own 5xx)",
  gateway: 'gateway (503: no healthy target left, or its pool full)',
  gateway_error: "gateway_error (500: the gateway's own error, a plugin's throw or overrun)",
};

/** The worse metric in one line: what it counts, its figures on both sides and how sure. */
function worseLine(worse: MetricVerdict): string {
  return `${GLOSS[worse.metric] ?? worse.metric} ${worse.canary} on the canary vs ${worse.baseline} on the rest (${formatP(worse.p)})`;
}

/** The metrics a summary shows: the 5xx and the latency always, the others when either side had one. */
function shown(m: MetricVerdict): boolean {
  return (
    m.metric === 'status_5xx' ||
    m.metric === 'latency' ||
    !(m.canary.startsWith('0/') && m.baseline.startsWith('0/'))
  );
}

function metricFigures(m: MetricVerdict): string {
  return `${m.metric} ${m.canary} vs ${m.baseline}`;
}
