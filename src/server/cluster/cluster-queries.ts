/**
 * What the primary asks every worker and merges into one answer (ClusterControl's status,
 * activity, events, canary window and gateway counts): a worker that does not answer in time
 * is left out, and counted where the answer says so.
 */

import { EVENTS_KEPT, mergeEvents } from '../../observe/events/event-ring.ts';
import type { RecordedEvent } from '../../observe/events/gateway-event.ts';
import type { Timeline } from '../../observe/events/timeline.ts';
import { type ActivityReport, mergeActivity } from '../../observe/metrics/activity.ts';
import {
  addSide,
  emptySide,
  mergeWindows,
  type SideCounts,
  sideOf,
  type WindowCounts,
} from '../../upstream/canary/canary-window.ts';
import type { CertificateStatus } from '../acme/acme-manager.ts';
import type { GatewayStatus } from '../gateway/status.ts';
import { type MergedStatus, mergeStatuses } from './status-merge.ts';
import type { WorkerRequests } from './worker-requests.ts';

/** Every worker's status, merged (status-merge.ts), and the certificates the primary orders. */
export async function mergedStatus(
  workers: WorkerRequests,
  certificates: () => readonly CertificateStatus[] | undefined,
): Promise<MergedStatus> {
  const answers = await workers.askAll((id) => ({ candor: 'status', id }));
  const statuses: { worker: number; pid: number | undefined; status: GatewayStatus | undefined }[] =
    answers.map(({ worker, pid, answer }) => ({
      worker,
      pid,
      status: answer?.candor === 'status' ? answer.status : undefined,
    }));
  const ordered = certificates();
  return { ...mergeStatuses(statuses), ...(ordered === undefined ? {} : { certificates: ordered }) };
}

/** Every worker's answers per second and latest failures, merged (activity.ts); and how many workers answered. */
export async function mergedActivity(
  workers: WorkerRequests,
): Promise<ActivityReport & { readonly workers: { asked: number; answered: number } }> {
  const answers = await workers.askAll((id) => ({ candor: 'activity', id }));
  const reports = answers.flatMap(({ answer }) => (answer?.candor === 'activity' ? [answer.activity] : []));
  return { ...mergeActivity(reports), workers: { asked: answers.length, answered: reports.length } };
}

/**
 * The deploy timeline (GET /events): the primary's events and each worker's (a canary
 * controller's), merged by time, the newest EVENTS_KEPT; `since` (epoch ms): only later ones;
 * `after` (an event's id): only those recorded after it.
 * A worker that does not answer in time leaves its events out, and is counted.
 */
export async function mergedEvents(
  workers: WorkerRequests,
  timeline: Timeline,
  since?: number,
  after?: number,
): Promise<{ events: RecordedEvent[]; workers: { asked: number; answered: number } }> {
  const answers = await workers.askAll((id) => ({
    candor: 'events',
    id,
    ...(since === undefined ? {} : { since }),
    ...(after === undefined ? {} : { after }),
  }));
  const lists = answers.flatMap(({ answer }) => (answer?.candor === 'events' ? [answer.events] : []));
  return {
    events: mergeEvents([timeline.ring.list(since, after), ...lists], EVENTS_KEPT),
    workers: { asked: answers.length, answered: lists.length },
  };
}

/** A canary route's window from every worker (each starts a new one), merged; undefined when no worker has it. */
export async function mergedCanaryWindow(
  workers: WorkerRequests,
  route: string,
): Promise<WindowCounts | undefined> {
  const answers = await workers.askAll((id) => ({ candor: 'canary_window', id, route }));
  const windows = answers.flatMap(({ answer }) =>
    answer?.candor === 'canary_window' && answer.window !== undefined ? [answer.window] : [],
  );
  return windows.length === 0 ? undefined : mergeWindows(windows);
}

/** Every worker's counts of every attempt since the last ask (each starts a new window), added up: a fleet's config canary. */
export async function addedGatewayCounts(workers: WorkerRequests): Promise<SideCounts> {
  const answers = await workers.askAll((id) => ({ candor: 'gateway_counts', id }));
  const total = emptySide();
  for (const { answer } of answers) {
    const counts = answer?.candor === 'gateway_counts' ? sideOf(answer.counts) : undefined;
    if (counts !== undefined) addSide(total, counts);
  }
  return total;
}
