import type { GatewayEvent, NameChanges, TargetMoves, WorkerEvent } from './gateway-event.ts';

/**
 * An event in a few words, for `candor explain` and the status page: "reload sha256:1f2e3d4c5b6a
 * (upstream api: targets http://10.0.0.7:80 joined)", "canary api-next moved to 25%", "worker 4242
 * ended by SIGKILL (its connections cut); replaced by worker 4250".
 */
/** A revision taken from etcd as the timeline and the reload's log line name it: "etcd revision 7 by alice, a rollback to revision 3". */
export function pushedBy(
  revision: number | undefined,
  author: string | undefined,
  rollbackOf?: number,
): string {
  const back = rollbackOf === undefined ? '' : `, a rollback to revision ${rollbackOf}`;
  return `etcd revision ${revision} by ${author}${back}`;
}

export function describeEvent(event: GatewayEvent): string {
  switch (event.kind) {
    case 'reload': {
      const parts = [
        ...names('route', event.routes),
        ...names('upstream', event.upstreams).filter((p) => !isTargetsOnly(p, event)),
        ...Object.entries(event.targets).map(([upstream, moves]) => `upstream ${upstream}: ${moved(moves)}`),
      ];
      const by = pushedBy(event.revision, event.author, event.rollback_of);
      const pushed = event.revision === undefined ? '' : ` of ${by}`;
      if (event.same_document === true)
        return `${by}: the document running already (${event.config_hash}), nothing reloaded`;
      return `reload ${event.config_hash}${pushed}${parts.length === 0 ? ' (nothing routed changed)' : ` (${parts.join('; ')})`}`;
    }
    case 'admin': {
      const change = event.change;
      switch (change.kind) {
        case 'target_state': {
          const verb = { draining: 'drained', disabled: 'disabled', enabled: 'enabled' }[change.state];
          return `admin: ${verb} ${change.target} (upstream ${change.upstream}) by ${event.who}`;
        }
        case 'weights':
          return `admin: weights of upstream ${change.upstream} set to ${change.weights.map((w) => `${w.target} ${w.weight}`).join(', ')} by ${event.who}`;
        case 'maintenance':
          return `admin: maintenance ${change.enabled ? 'on' : 'off'} for route ${change.route} by ${event.who}`;
        case 'split':
          return `admin: route ${change.route} split ${change.split.map((s) => `${s.upstream} ${s.weight}`).join(', ')} by ${event.who}`;
        case 'purge': {
          const keys = change.key === null ? '' : ` (keys under ${JSON.stringify(change.key)})`;
          const whose = change.route === null ? "every route's cache" : `cache of route ${change.route}`;
          return `admin: ${whose} purged${keys} by ${event.who}`;
        }
      }
      break;
    }
    case 'discovery':
      return `DNS answer (upstream ${event.upstream}: ${moved(event)})`;
    case 'health':
      return `target ${event.target} (upstream ${event.upstream}) went ${event.state}${event.failure === undefined ? '' : ` (${event.failure})`}`;
    case 'canary': {
      const reason = event.reason === undefined ? '' : `: ${event.reason}`;
      const where = `(route ${event.route})${reason}`;
      switch (event.action) {
        case 'step':
          return `canary ${event.upstream} moved to ${event.weight}% ${where}`;
        case 'rollback':
          return `canary ${event.upstream} rolled back to ${event.weight}% ${where}`;
        case 'promote':
          return `canary ${event.upstream} promoted ${where}`;
        case 'start':
          return `canary ${event.upstream} started at ${event.weight}% ${where}`;
        case 'pause':
          return `canary ${event.upstream} paused at ${event.weight}% ${where}`;
        case 'hold':
          return `canary ${event.upstream} held at ${event.weight}% ${where}`;
      }
      break;
    }
    case 'worker':
      return workerWords(event);
  }
  return 'change';
}

/**
 * "worker 4242 ended by SIGKILL (its connections cut); replaced by worker 4250", or "worker 4242
 * exited with code 1 (its connections cut); replaced in 0.4 s (4 short-lived workers in a row)".
 */
function workerWords(event: WorkerEvent): string {
  const who = event.pid === null ? 'a worker' : `worker ${event.pid}`;
  const how = typeof event.exit === 'string' ? `ended by ${event.exit}` : `exited with code ${event.exit}`;
  const inARow =
    event.short_lived_in_a_row > 1 ? ` (${event.short_lived_in_a_row} short-lived workers in a row)` : '';
  const next =
    event.restart_in_ms > 0
      ? `replaced in ${event.restart_in_ms / 1000} s`
      : event.replacement_pid === undefined
        ? 'replaced'
        : `replaced by worker ${event.replacement_pid}`;
  const cut = event.served ? 'its connections cut' : 'before it served';
  return `${who} ${how} (${cut}); ${next}${inARow}`;
}

function names(what: string, changes: NameChanges): string[] {
  const out: string[] = [];
  for (const verb of ['added', 'removed', 'changed'] as const)
    if (changes[verb].length > 0)
      out.push(`${what}${changes[verb].length > 1 ? 's' : ''} ${changes[verb].join(', ')} ${verb}`);
  return out;
}

/** "upstream api changed" says less than the targets that moved in it, which follow. */
function isTargetsOnly(part: string, event: { targets: Readonly<Record<string, TargetMoves>> }): boolean {
  return Object.keys(event.targets).some((name) => part === `upstream ${name} changed`);
}

function moved(moves: TargetMoves): string {
  const out: string[] = [];
  if (moves.joined.length > 0)
    out.push(`target${moves.joined.length > 1 ? 's' : ''} ${moves.joined.join(', ')} joined`);
  if (moves.left.length > 0)
    out.push(`target${moves.left.length > 1 ? 's' : ''} ${moves.left.join(', ')} left`);
  return out.length === 0 ? 'targets changed' : out.join(', ');
}
