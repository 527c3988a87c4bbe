import type { Exposition } from './exposition.ts';
import { AggregatorRegistry, type Registry } from './prom.ts';

/**
 * `--workers N`: each worker counts its own requests; the primary, which serves /metrics,
 * asks every worker for its registry over the cluster's IPC channel and merges them with
 * prom-client's AggregatorRegistry (each metric by the aggregator its catalog row names).
 */

/** In a worker: answer the primary's requests with this gateway's registry. */
export function answerPrimaryWith(registry: Registry): void {
  AggregatorRegistry.setRegistries(registry);
  // Constructing it is what installs the worker's listener for the primary's requests.
  new AggregatorRegistry();
}

/**
 * In the primary: renders every worker's metrics, merged (rejects when a worker does not answer
 * within 5 s). The primary makes one and holds it; the aggregator is made at the first scrape.
 */
export function clusterMetrics(): () => Promise<Exposition> {
  let aggregator: AggregatorRegistry<'text/plain; version=0.0.4; charset=utf-8'> | undefined;
  return async () => {
    aggregator ??= new AggregatorRegistry();
    const text = await aggregator.clusterMetrics();
    return { contentType: aggregator.contentType, text };
  };
}
