/**
 * A gateway's listeners across a reload: the new ones opened first (the one step that can fail,
 * and nothing has changed yet if it does), then the kept ones updated, the removed ones taken out
 * and closed once their requests are done; and the line each listener logs as it opens.
 */
import { ConfigError } from '../../core/config/config-error.ts';
import { fieldPosition } from '../../core/config/field-lines.ts';
import { listenerKey } from '../../core/config/listener-key.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { hostPort } from '../../core/net/host-port.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { type Listener, type OrderedCertificateSource, startListener } from '../../proxy/accept/listener.ts';
import type { RequestHandlers } from '../../proxy/accept/request-handlers.ts';
import { closeListener } from './drain.ts';
import type { ListenerPlan } from './reload-plan.ts';

/** Opens the listeners `plan` adds; if one cannot open, closes those that did and throws a ConfigError naming it. */
export async function openAdded(
  plan: ListenerPlan,
  next: GatewayConfig,
  handlers: RequestHandlers,
  ordered: OrderedCertificateSource,
): Promise<Listener[]> {
  const opened: Listener[] = [];
  try {
    for (const listen of plan.added) opened.push(await startListener(listen, handlers, ordered));
  } catch (err) {
    await Promise.all(opened.map((l) => l.close()));
    const at = next.listen.indexOf(plan.added[opened.length]);
    throw new ConfigError([
      {
        file: next.source,
        ...fieldPosition(next, `listen[${at}].address`),
        path: `listen[${at}].address`,
        message: `cannot open ${plan.added[opened.length].address}: ${(err as Error).message}`,
      },
    ]);
  }
  return opened;
}

/**
 * The kept listeners' new settings, their files read (a TLS certificate gone since the config
 * was checked throws, nothing changed); each function returned puts one in force.
 */
export function prepareKept(
  listeners: readonly Listener[],
  plan: ListenerPlan,
  next: GatewayConfig,
): (() => void)[] {
  const updates: (() => void)[] = [];
  for (const { after } of plan.kept) {
    const update = listeners
      .find((l) => listenerKey(l.config) === listenerKey(after))
      ?.prepareUpdate(after, next.limits);
    if (update !== undefined) updates.push(update);
  }
  return updates;
}

/**
 * Swaps `listeners` (the gateway's, changed in place) to `plan`: the kept ones take `next`'s
 * settings (`kept`, prepareKept's), the removed ones go to `closingListeners` until their last
 * connection closed, the `opened` ones join.
 */
export function swapListeners(
  listeners: Listener[],
  closingListeners: Set<Listener>,
  plan: ListenerPlan,
  opened: readonly Listener[],
  kept: readonly (() => void)[],
  logger: Logger,
  next: GatewayConfig,
): void {
  for (const update of kept) update();
  const removed = new Set(plan.removed.map(listenerKey));
  const closing = listeners.filter((l) => removed.has(listenerKey(l.config)));
  for (const l of closing) listeners.splice(listeners.indexOf(l), 1);
  listeners.push(...opened);
  for (const l of opened) logListening(logger, l);
  // Closing waits for the requests in flight on them, until drain.timeout; the reload does not.
  for (const l of closing) {
    closingListeners.add(l);
    void closeListener(l, next.drain.timeout).then(() => closingListeners.delete(l));
  }
}

export function logListening(logger: Logger, listener: Listener): void {
  logger.info(
    { address: hostPort(listener.config.host, listener.port()), tls: Boolean(listener.config.tls) },
    'listening',
  );
}
