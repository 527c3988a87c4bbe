/**
 * What a fleet gateway says of the config it runs, in the three places it says it: GET /status's
 * `config.etcd` (and the status page), the primary's gauges on /metrics, and its record under
 * the lease that `candor fleet status` lists. One reading of the source's state (fleet-source.ts)
 * for all three, so that none names another revision or refusal than the others.
 */
import { formatConfigProblem } from '../../core/config/config-error.ts';
import { VERSION } from '../../core/version.ts';
import type { PrimaryFamily } from '../../observe/metrics/cluster.ts';
import type { GatewayRecord } from './fleet-keys.ts';
import type { RevisionRefused } from './fleet-start.ts';
import type { SourceReach, SourceStatus } from './source-reach.ts';

/** The source's state as fleet-source.ts holds it. */
export interface RunningState {
  readonly key: string;
  readonly endpoints: readonly string[];
  readonly running: { revision: number; author?: string; hash: string; since: string };
  readonly refused: RevisionRefused | undefined;
  readonly reach: SourceReach;
}

export function sourceStatus({ key, endpoints, running, refused, reach }: RunningState): SourceStatus {
  const { revision, author, since } = running;
  return {
    kind: 'etcd',
    key,
    endpoints,
    revision,
    author: author ?? null,
    since,
    reachable: reach.reachable,
    unreachable_since: reach.unreachableSince ?? null,
    summary: reach.summary(revision),
    refused: refused === undefined ? null : refusalShown(refused),
    denied: reach.denied ?? null,
  };
}

/** The source's gauges, for the primary's /metrics (observe/metrics/cluster.ts adds them). */
export function sourceGauges({ key, running, refused, reach }: RunningState): readonly PrimaryFamily[] {
  const labels = { key };
  const away = reach.unreachableSince;
  const since = away === undefined ? 0 : Date.parse(away) / 1000;
  return [
    { metric: 'configSourceRevision', values: [{ value: running.revision, labels }] },
    { metric: 'configSourceUnreachableSince', values: [{ value: since, labels }] },
    { metric: 'configSourceRefusedRevision', values: [{ value: refused?.revision ?? 0, labels }] },
  ];
}

/** The gateway's record under its lease: who it is (`name`, its listeners' `address`, this machine's `host`) and what it runs. */
export function gatewayRecord(
  { running, refused, reach }: RunningState,
  who: { name: string; address: string; host: string },
): GatewayRecord {
  const { revision, hash, since } = running;
  return {
    ...who,
    version: VERSION,
    pid: process.pid,
    revision,
    hash,
    since,
    ...(refused === undefined ? {} : { refused: refusalShown(refused) }),
    ...(reach.unreachableSince === undefined ? {} : { unreachable_since: reach.unreachableSince }),
  };
}

/** A refusal with each problem in words (its file, line, column and field). */
function refusalShown(refused: RevisionRefused): { revision: number; at: string; problems: string[] } {
  return { ...refused, problems: refused.problems.map(formatConfigProblem) };
}
