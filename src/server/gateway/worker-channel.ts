import { ConfigError } from '../../core/config/config-error.ts';
import { keepFieldLines } from '../../core/config/field-lines.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { keepAnnouncedPorts } from '../../core/net/listen-options.ts';
import { PurgeTally } from '../../proxy/cache/purge-tally.ts';
import { ClusterLink } from './cluster-link.ts';
import type { Gateway } from './gateway.ts';
import { type FromWorker, isToWorker } from './ipc-protocol.ts';
import type { RuntimeChange } from './runtime-changes.ts';

/**
 * The primary's requests that came before serveThePrimary listened, kept for it: Node drops a
 * message of a read that no listener is there for, and the start is sent at the fork, so a
 * reload or a change asked for while a restarted worker boots arrives in the same read.
 */
export interface EarlyRequests {
  /** Stops keeping them: what was kept, in the order it came. */
  take(): readonly unknown[];
}

/** A worker's first message: the snapshot to start on (see ipc-protocol.ts). */
export function awaitStart(): Promise<{
  config: GatewayConfig;
  changes: readonly RuntimeChange[];
  link: ClusterLink;
  early: EarlyRequests;
}> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isToWorker(message) || message.candor !== 'start') return;
      process.off('message', onMessage);
      const { config, changes, share, health, discovered, breakers, lines, ports } = message;
      keepAnnouncedPorts(ports);
      // A start refused after the load (a plugin's factory) names its field's line, as a reload's refusal does.
      keepFieldLines(config, lines);
      // Made here, in the same turn: the primary's next message (a verdict) may follow in the same read.
      const link = new ClusterLink(share, health, discovered, breakers);
      resolve({ config, changes, link, early: keepEarlyRequests() });
    };
    process.on('message', onMessage);
  });
}

function keepEarlyRequests(): EarlyRequests {
  const kept: unknown[] = [];
  const keep = (message: unknown) => {
    if (isToWorker(message) && REQUESTS.has(message.candor)) kept.push(message);
  };
  process.on('message', keep);
  return {
    take: () => {
      process.off('message', keep);
      return kept;
    },
  };
}

/** The primary's requests a worker answers (the shared-state messages travel on the same channel: cluster-link.ts). */
const REQUESTS = new Set([
  'reload',
  'change',
  'status',
  'activity',
  'purge',
  'events',
  'canary_window',
  'gateway_counts',
]);

/**
 * Answers the primary's reload, change, status, activity, events and purge requests on this worker's gateway. Listening
 * starts before the gateway is up, so a request that arrives while it starts waits for it
 * rather than being lost.
 */
export function serveThePrimary(starting: Promise<Gateway>, early: EarlyRequests): () => void {
  // Not once the channel closed (the worker drained, a reload still under way then): node:cluster
  // would throw ERR_IPC_CHANNEL_CLOSED as the worker's 'error', and the worker exit 1.
  const send = (answer: FromWorker) => {
    if (process.connected) process.send?.(answer);
  };
  const onMessage = async (message: unknown) => {
    if (!isToWorker(message) || !REQUESTS.has(message.candor)) return;
    let gateway: Gateway;
    try {
      gateway = await starting;
    } catch {
      return; // the worker is exiting: its start failed, and serve.ts says why
    }
    switch (message.candor) {
      case 'reload':
        try {
          keepFieldLines(message.config, message.lines);
          const outcome = await gateway.reload(message.config);
          send({ candor: 'reloaded', id: message.id, outcome });
        } catch (err) {
          send(
            err instanceof ConfigError
              ? { candor: 'reloaded', id: message.id, problems: err.problems }
              : { candor: 'reloaded', id: message.id, error: (err as Error).message },
          );
        }
        return;
      case 'change':
        try {
          gateway.apply(message.change);
          send({ candor: 'changed', id: message.id });
        } catch (err) {
          send({ candor: 'changed', id: message.id, error: (err as Error).message });
        }
        return;
      case 'status':
        send({ candor: 'status', id: message.id, status: gateway.status() });
        return;
      case 'activity':
        send({ candor: 'activity', id: message.id, activity: gateway.metrics.activity.report() });
        return;
      case 'canary_window':
        send({
          candor: 'canary_window',
          id: message.id,
          window: gateway.runtime().splits.get(message.route)?.window?.take(),
        });
        return;
      case 'gateway_counts':
        send({ candor: 'gateway_counts', id: message.id, counts: gateway.runtime().gatewayCounts.take() });
        return;
      case 'purge': {
        // What went is named too (up to PURGE_IDS_MAX), so that an answer this worker and
        // another both held is counted once by the primary.
        const tally = new PurgeTally();
        // In effect once called (the answers in memory gone, a read of a file it covers a miss):
        // said at once, since the files of a large cache.dir take seconds to go.
        const purging = gateway.purge(message.scope, tally);
        send({ candor: 'purge_taken', id: message.id });
        const removed = await purging;
        send({ candor: 'purged', id: message.id, removed, ids: tally.ids });
        return;
      }
      case 'events':
        send({
          candor: 'events',
          id: message.id,
          events: gateway.timeline.ring.list(message.since, message.after),
        });
        return;
    }
  };
  process.on('message', onMessage);
  // Each waits for the gateway, in the order they came: before any that comes from now on.
  for (const message of early.take()) void onMessage(message);
  return () => process.off('message', onMessage);
}
