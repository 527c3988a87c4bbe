import type { PrimaryFamily } from '../../observe/metrics/cluster.ts';
import type { AcmeOrderOutcome, CanaryVerdictCount } from '../../observe/metrics/metrics.ts';

/**
 * What the primary counts of the workers' metrics, where it alone knows each event and a worker's
 * death takes nothing with it (as it counts the workers' exits, worker-exits.ts).
 *
 * candor_canary_verdicts_total under `serve --workers N`: the verdicts are the primary's (its
 * controller judges every worker's counts merged), so the primary counts them, as it counts the
 * workers' exits. Each worker counted the verdict it was sent and the primary reported the largest
 * count, but a replacement worker starts from 0 and the dead one's count stayed the largest: the
 * verdicts after a worker's death were not seen until the new worker's own count passed it.
 */
const verdicts = new Map<string, { route: string; verdict: string; metric: string; value: number }>();

/** The controller's verdict on a step of `route` went to the workers. */
export function countCanaryVerdict(route: string, { verdict, metric }: CanaryVerdictCount): void {
  const key = JSON.stringify([route, verdict, metric]);
  const seen = verdicts.get(key) ?? { route, verdict, metric, value: 0 };
  seen.value++;
  verdicts.set(key, seen);
}

/** candor_canary_verdicts_total, as the primary adds it to the workers' merged metrics. */
export function canaryVerdicts(): PrimaryFamily {
  return {
    metric: 'canaryVerdicts',
    values: [...verdicts.values()].map(({ route, verdict, metric, value }) => ({
      value,
      labels: { route, verdict, metric },
    })),
  };
}

/**
 * candor_config_reloads_total under `serve --workers N`: the primary runs each reload (and refuses
 * a file before any worker sees it). One worker counted it when told, and lost the reloads it had
 * counted since the last scrape when it died.
 */
const reloads = { success: 0, failure: 0 };

/** A reload the primary ran ended: swapped in the workers, or refused. */
export function countReload(result: 'success' | 'failure'): void {
  reloads[result]++;
}

/** candor_config_reloads_total, as the primary adds it to the workers' merged metrics (theirs are 0). */
export function configReloads(): PrimaryFamily {
  return {
    metric: 'configReloads',
    values: (['success', 'failure'] as const).map((result) => ({
      value: reloads[result],
      labels: { result },
    })),
  };
}

/**
 * candor_acme_orders_total under `serve --workers N`: the primary makes every order. One worker
 * counted each, as it was told, and lost the orders it had counted since the last scrape when it
 * died (a kill -9, the OOM killer): a failed order gone from the count, `increase()` never saw it.
 */
const orders = new Map<string, { name: string; result: string; value: number }>();

/** An order of the primary's ended (a certificate taken from the fleet is no order: not counted). */
export function countAcmeOrder({ name, result }: AcmeOrderOutcome): void {
  if (result === 'adopted') return;
  const key = JSON.stringify([name, result]);
  const seen = orders.get(key) ?? { name, result, value: 0 };
  seen.value++;
  orders.set(key, seen);
}

/** candor_acme_orders_total, as the primary adds it to the workers' merged metrics (theirs are 0). */
export function acmeOrders(): PrimaryFamily {
  return {
    metric: 'acmeOrders',
    values: [...orders.values()].map(({ name, result, value }) => ({ value, labels: { name, result } })),
  };
}
