import type { ConfigProblem } from '../../core/config/config-error.ts';
import { fieldPosition } from '../../core/config/field-lines.ts';
import { listenerKey } from '../../core/config/listener-key.ts';
import type { GatewayConfig, ListenerConfig } from '../../core/config/types.ts';
import type { ReloadEvent, TargetMoves } from '../../observe/events/gateway-event.ts';

/** What a reload does to the listeners: which stay (with their socket), open or close. */
export interface ListenerPlan {
  readonly kept: readonly { readonly before: ListenerConfig; readonly after: ListenerConfig }[];
  readonly added: readonly ListenerConfig[];
  readonly removed: readonly ListenerConfig[];
}

export function planListeners(before: GatewayConfig, after: GatewayConfig): ListenerPlan {
  const old = new Map(before.listen.map((l) => [listenerKey(l), l]));
  const kept: { before: ListenerConfig; after: ListenerConfig }[] = [];
  const added: ListenerConfig[] = [];
  for (const listener of after.listen) {
    const previous = old.get(listenerKey(listener));
    if (previous === undefined) added.push(listener);
    else {
      kept.push({ before: previous, after: listener });
      old.delete(listenerKey(listener));
    }
  }
  return { kept, added, removed: [...old.values()] };
}

/**
 * Settings a reload cannot change, each a problem in the config error's form (file, line, the
 * field, why, what to do), so a refused reload reads like an invalid file and changes nothing.
 *
 * Changing them would need a new listening socket: the listener's server takes the header size limit
 * when the server is made, and a socket serves HTTP or HTTPS for life. A new socket on the same
 * address cannot overlap the old one without splitting its connections between the two
 * servers (each worker binds the address once, listen-options.ts), so the choice is closing it — refusing the
 * connections that arrive meanwhile, which a reload promises never to do — or refusing the
 * reload. The reload is refused; a restart changes them.
 */
export function unchangeableProblems(before: GatewayConfig, after: GatewayConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) =>
    problems.push({ file: after.source, ...fieldPosition(after, path), path, message });
  if (before.limits.headerSize !== after.limits.headerSize)
    problem(
      'limits.header_size',
      `cannot change on a reload (${before.limits.headerSize} → ${after.limits.headerSize} bytes): the listener's server takes it when it is made; restart the gateway to change it`,
    );
  // A listener's HTTP/2 server takes its bounds (node:http2's settings among them) when it is made.
  if (
    before.listen.some((l) => l.http2) &&
    JSON.stringify(before.limits.http2) !== JSON.stringify(after.limits.http2)
  )
    problem(
      'limits.http2',
      `cannot change on a reload while a listener serves HTTP/2: its server takes them when it is made; restart the gateway to change them`,
    );
  for (const { before: was, after: now } of planListeners(before, after).kept) {
    if (was.http2 !== now.http2) {
      const index = after.listen.indexOf(now);
      problem(
        `listen[${index}].http2`,
        `cannot turn HTTP/2 ${now.http2 ? 'on' : 'off'} for ${now.address} on a reload: the listener picks its server when it opens; restart the gateway, or use a new address`,
      );
    }
    if (Boolean(was.proxyProtocol) !== Boolean(now.proxyProtocol)) {
      const index = after.listen.indexOf(now);
      problem(
        `listen[${index}].proxy_protocol`,
        `cannot turn the PROXY protocol ${now.proxyProtocol ? 'on' : 'off'} for ${now.address} on a reload: the listener reads it from each connection from the start or not at all; restart the gateway, or use a new address (its \`from\` list can change)`,
      );
    }
    if (Boolean(was.tls) !== Boolean(now.tls)) {
      const index = after.listen.indexOf(now);
      problem(
        `listen[${index}].tls`,
        `cannot turn TLS ${now.tls ? 'on' : 'off'} for ${now.address} on a reload: a socket serves HTTP or HTTPS for life; restart the gateway, or use a new address`,
      );
    }
  }
  if (JSON.stringify(before.metrics) !== JSON.stringify(after.metrics))
    problem(
      before.metrics?.address === after.metrics?.address ? 'metrics.allowed_hosts' : 'metrics.listen',
      `cannot change on a reload: the metrics listener is opened at start; restart the gateway to change it`,
    );
  // Without `tracing.service_name` the spans' service.name is the gateway's name: a rename alone
  // changes it, and was refused as a change to `tracing`, at a section the operator never touched.
  const renamedOnly =
    before.tracing !== undefined &&
    after.tracing !== undefined &&
    before.name !== after.name &&
    before.tracing.serviceName === before.name &&
    after.tracing.serviceName === after.name &&
    JSON.stringify({ ...before.tracing, serviceName: '' }) ===
      JSON.stringify({ ...after.tracing, serviceName: '' });
  if (renamedOnly)
    problem(
      'name',
      `cannot change on a reload while \`tracing.service_name\` is not written (${before.name} → ${after.name}): the spans' \`service.name\` is the gateway's name, given to the span exporter at start; write \`tracing.service_name: ${before.name}\` to keep it, or restart the gateway`,
    );
  else if (JSON.stringify(before.tracing) !== JSON.stringify(after.tracing))
    problem(
      'tracing',
      `cannot change on a reload: the span exporter is made at start; restart the gateway to change it`,
    );
  if (before.log.destination !== after.log.destination)
    problem(
      'log.destination',
      `cannot change on a reload (${before.log.destination} → ${after.log.destination}): restart the gateway to change it (SIGUSR1 reopens the same file after a rotation)`,
    );
  return problems;
}

/** What a reload does to the routes, by name (a name used twice is told by its position: "api#3"). */
export interface RouteChanges {
  readonly added: string[];
  readonly removed: string[];
  /** In both configs, with another match, upstream, policy or place in the order. */
  readonly changed: string[];
}

export function routeChanges(before: GatewayConfig, after: GatewayConfig): RouteChanges {
  const keyed = (config: GatewayConfig) => {
    const seen = new Map<string, number>();
    const out = new Map<string, string>();
    for (const route of config.routes) {
      const count = seen.get(route.name) ?? 0;
      seen.set(route.name, count + 1);
      out.set(count === 0 ? route.name : `${route.name}#${count + 1}`, JSON.stringify(route));
    }
    return out;
  };
  const old = keyed(before);
  const now = keyed(after);
  return {
    added: [...now.keys()].filter((name) => !old.has(name)),
    removed: [...old.keys()].filter((name) => !now.has(name)),
    changed: [...now]
      .filter(([name, route]) => old.has(name) && old.get(name) !== route)
      .map(([name]) => name),
  };
}

/**
 * What a reload changes that can start a storm, for the deploy timeline's reload event: the
 * routes and upstreams added, removed and changed, and of the upstreams changed, the written
 * targets that joined and left (by URL).
 */
export function reloadChanges(
  before: GatewayConfig,
  after: GatewayConfig,
): Pick<ReloadEvent, 'routes' | 'upstreams' | 'targets'> {
  const names = (config: GatewayConfig) => Object.keys(config.upstreams);
  const kept = names(after).filter((n) => Object.hasOwn(before.upstreams, n));
  const changed = kept.filter(
    (n) => JSON.stringify(before.upstreams[n]) !== JSON.stringify(after.upstreams[n]),
  );
  const targets: Record<string, TargetMoves> = {};
  for (const name of changed) {
    const moves = targetMoves(before.upstreams[name].targets, after.upstreams[name].targets);
    if (moves.joined.length + moves.left.length > 0) targets[name] = moves;
  }
  return {
    routes: routeChanges(before, after),
    upstreams: {
      added: names(after).filter((n) => !Object.hasOwn(before.upstreams, n)),
      removed: names(before).filter((n) => !Object.hasOwn(after.upstreams, n)),
      changed,
    },
    targets,
  };
}

/** The targets in `after` and not in `before` (joined), and the other way round (left), by URL. */
export function targetMoves(
  before: readonly { readonly url: string }[],
  after: readonly { readonly url: string }[],
): TargetMoves {
  const was = new Set(before.map((t) => t.url));
  const now = new Set(after.map((t) => t.url));
  return {
    joined: [...now].filter((url) => !was.has(url)),
    left: [...was].filter((url) => !now.has(url)),
  };
}
