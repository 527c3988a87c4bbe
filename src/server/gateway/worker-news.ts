/**
 * What a cluster worker does with what its link (cluster-link.ts) brings from the primary and
 * the other workers: certificates ordered and orders to count, health verdicts,
 * ejections and open circuits, and the cache invalidations of another worker's unsafe requests.
 * Each is applied to the runtime live when it comes.
 */

import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import { applyVerdicts } from '../../upstream/health/active-checks.ts';
import { applyAnnouncement, type ReturnNews } from '../../upstream/health/report-outcome.ts';
import type { AutomaticHttps } from '../acme/automatic-https.ts';
import type { ClusterLink } from './cluster-link.ts';
import type { LiveRuntime } from './runtime.ts';

/** Wires `link`'s news to the gateway's live `runtime`, its automatic HTTPS and its metrics. */
export function followLink(
  link: ClusterLink,
  runtime: () => LiveRuntime,
  https: () => AutomaticHttps | undefined,
  metrics: GatewayMetrics,
  logger: Logger,
): void {
  link.current = runtime;
  link.onAcmeIssued = (name) => https()?.issued(name);
  // The order's failures in a row shown here; the order itself is counted by the primary.
  link.onAcmeOrdered = (outcome) => metrics.acmeOrdered(outcome, false);
  link.onReturnCounted = ({ upstream, origin, by }) => metrics.returned(upstream, origin, by);
  // What the primary probed and asked DNS before any worker served: counted here, once.
  link.onEarlyCounts = (counts) => {
    for (const count of counts)
      for (let i = 0; i < count.times; i++)
        if (count.metric === 'healthChecked') metrics.healthChecked(...count.args);
        else if (count.metric === 'healthTransition') metrics.healthTransition(...count.args);
        else metrics.discovered(...count.args);
  };
  // A verdict that ends an ejection here tells the primary, which has its first return counted.
  const returns = { metrics, logger, announce: (news: ReturnNews) => link.announce(news) };
  link.onHealth = (verdicts, count) =>
    applyVerdicts(runtime().upstreams, verdicts, performance.now(), count ? metrics : undefined, returns);
  // Another worker ejected a target or opened a circuit: so does this one, for the time left.
  link.onAnnouncement = (news) => {
    const upstream = runtime().upstreams.get(news.upstream);
    if (upstream !== undefined) applyAnnouncement(upstream, news, performance.now());
  };
  // Another worker's unsafe request changed these resources: their answers held here go too; or
  // it stored newer answers of them in the shared folder: the copies held here go, read from there next.
  link.onCacheNews = (news) => {
    const cache = runtime().caches.get(news.route);
    if (news.candor === 'cache-stored') cache?.storedElsewhere(news.keys);
    else cache?.invalidatedElsewhere(news.keys);
  };
}
