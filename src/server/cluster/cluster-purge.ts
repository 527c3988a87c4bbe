/**
 * How the primary purges (ClusterControl.purge, one change at a time): drops stored answers in
 * every worker's route caches and merges what each removed.
 */
import type { GatewayConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { mergePurged } from '../../proxy/cache/purge-merge.ts';
import type { PurgeScope } from '../../proxy/cache/route-caches.ts';
import type { FromWorker } from '../gateway/ipc-protocol.ts';
import type { ChangeProblem } from '../gateway/runtime-changes.ts';
import type { Caller } from './reload-report.ts';
import type { WorkerRequests } from './worker-requests.ts';

/** What a purge answers: a problem with its scope, or what the workers removed and which took it. */
export type PurgeAnswer =
  | { problem: ChangeProblem }
  | {
      removed: number;
      removed_at_most?: number;
      confirmed: number[];
      under_way: number[];
      failed: number[];
    };

/**
 * Purges `scope` in every worker `workers` reaches, checked against `config` first. `wait`:
 * how long a worker that took the purge has to tell its count (ClusterControl.purge says more).
 */
export async function purgeInWorkers(
  workers: WorkerRequests,
  config: GatewayConfig,
  logger: Logger,
  scope: PurgeScope,
  caller: Caller,
  wait: number,
  /** Called once the scope is checked, as the purge is sent (the deploy timeline's event). */
  sent: () => void,
): Promise<PurgeAnswer> {
  if (scope.route !== undefined) {
    const route = config.routes.find((r) => r.name === scope.route);
    if (route === undefined)
      return { problem: { field: 'route', detail: `no route named "${scope.route}"` } };
    if (route.cache === undefined)
      return { problem: { field: 'route', detail: `the route "${scope.route}" has no cache` } };
  }
  const late = (worker: number, answer: FromWorker | undefined) =>
    answer?.candor === 'purged'
      ? logger.info({ purge: scope, worker, removed: answer.removed }, 'admin purge finished')
      : logger.warn({ purge: scope, worker }, 'admin purge never finished (worker gone or stuck)');
  sent();
  const answers = await workers.askAll((id) => ({ candor: 'purge', id, scope }), { wait, late });
  const purged: { removed: number; ids?: readonly string[] }[] = [];
  const confirmed: number[] = [];
  const underWay: number[] = [];
  const failed: number[] = [];
  for (const { worker, answer, taken, exit } of answers) {
    if (answer?.candor === 'purged') {
      purged.push(answer);
      confirmed.push(worker);
    } else if (taken === true && exit === undefined) underWay.push(worker);
    else failed.push(worker);
  }
  // An answer two workers held is one (each keeps its own copy in memory).
  const { removed, removedAtMost } = mergePurged(purged);
  const counted = removedAtMost === undefined ? {} : { removed_at_most: removedAtMost };
  logger.info(
    {
      who: caller.who,
      purge: scope,
      removed,
      ...counted,
      workers: { confirmed, under_way: underWay, failed },
    },
    'admin purge',
  );
  return { removed, ...counted, confirmed, under_way: underWay, failed };
}
