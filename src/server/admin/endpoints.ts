import { isAbsolute } from 'node:path';
import { configHash } from '../../core/config/config-hash.ts';
import { EVENTS_KEPT } from '../../observe/events/event-ring.ts';
import { describeEvent } from '../../observe/events/event-words.ts';
import { ACTIVITY_SECONDS } from '../../observe/metrics/activity.ts';
import type { RenderMetrics } from '../../observe/metrics/exposition.ts';
import type { Canaries } from '../canary/canaries.ts';
import { OPERATOR_ACTIONS, type OperatorWord } from '../canary/operator-actions.ts';
import type { ClusterControl } from '../cluster/cluster-control.ts';
import { probeAnswer } from '../gateway/probes.ts';
import type { AdminRequest, AdminRoute } from './admin-server.ts';
import { type AdminAnswer, badField, problem } from './answer.ts';
import { routeMaintenance, routeSplit, targetState, targetWeights } from './change-endpoints.ts';
import { configView } from './config-view.ts';
import { type Admin, caller, type Handler, objectBody, stringField } from './endpoint-fields.ts';
import { purgeAnswer, purgeSelection } from './purge-answer.ts';

/** The admin API's endpoints over the cluster primary's control (README "Admin API" shows each). */
export function adminEndpoints(
  control: ClusterControl,
  canaries?: Pick<Canaries, 'status' | 'act' | 'byHand'>,
): AdminRoute[] {
  const admin: Admin = { control, canaries };
  const route = (method: AdminRoute['method'], path: string, handler: Handler, open?: true): AdminRoute => ({
    method,
    path,
    ...(open ? { open } : {}),
    handle: (request) => handler(admin, request),
  });
  return [
    route('GET', '/live', (a) => probe(a, 'live'), true),
    route('GET', '/ready', (a) => probe(a, 'ready'), true),
    route('GET', '/status', status),
    route('GET', '/fleet', fleet),
    route('GET', '/activity', activity),
    route('GET', '/events', events),
    route('GET', '/config', config),
    route('POST', '/reload', reload),
    route('POST', '/targets/drain', targetState('draining')),
    route('POST', '/targets/disable', targetState('disabled')),
    route('POST', '/targets/enable', targetState('enabled')),
    route('PUT', '/targets/weights', targetWeights),
    route('PUT', '/routes/split', routeSplit),
    route('GET', '/canary', canaryStatus),
    ...[...OPERATOR_ACTIONS, 'abort' as const].map((action) =>
      route('POST', `/canary/${action}`, canaryAction(action)),
    ),
    { ...route('DELETE', '/cache', cachePurge), query: true },
    route('PUT', '/routes/maintenance', routeMaintenance),
  ];
}

function probe({ control }: Admin, which: 'live' | 'ready'): AdminAnswer {
  const { status, body } = probeAnswer(which, control.draining, !control.serving);
  return { status, body: JSON.parse(body) };
}

async function status({ control }: Admin): Promise<AdminAnswer> {
  const merged = await control.status();
  return {
    status: 200,
    body: {
      gateway: control.config.name,
      config: {
        source: control.config.source,
        // The config in force's, as `version` and GET /config are (its hash is known: the
        // process that read it worked it out). The first worker's was null while it did not
        // answer, and the config before after a reload it did not confirm.
        hash: configHash(control.config),
        version: control.version,
        // A fleet gateway's etcd source: the revision it runs, since when etcd is
        // unreachable, the last revision it refused (docs/fleet.md).
        ...(control.configSource === undefined ? {} : { etcd: control.configSource() }),
      },
      last_reload: control.lastReload ?? null,
      runtime_changes: control.changes,
      ...merged,
    },
  };
}

async function fleet({ control }: Admin): Promise<AdminAnswer> {
  if (control.fleet === undefined)
    return problem(
      404,
      'Not Found',
      'this gateway does not take its config from etcd: there is no fleet to show',
    );
  try {
    return { status: 200, body: (await control.fleet()) as Record<string, unknown> };
  } catch (err) {
    return problem(
      503,
      'Service Unavailable',
      `the fleet's records cannot be read: ${(err as Error).message}`,
    );
  }
}

/** The status page's chart and failure list: every worker's last minutes, merged. */
async function activity({ control }: Admin): Promise<AdminAnswer> {
  const { seconds, failures, workers } = await control.activity();
  return {
    status: 200,
    body: {
      now: Date.now() / 1000,
      window_seconds: ACTIVITY_SECONDS,
      workers,
      per_second: seconds,
      failures,
    },
  };
}

/**
 * The deploy timeline: every change that can start a storm, oldest first. ?since=TIME
 * (ISO-8601, or epoch milliseconds) keeps those made after it; ?after=ID those recorded
 * after the event of that id. A poller passes the last `id` it saw: two events made in one
 * millisecond share their `at`, and `since` the first one's would miss the second.
 */
async function events({ control }: Admin, request: AdminRequest): Promise<AdminAnswer> {
  const raw = request.query.get('since');
  let since: number | undefined;
  if (raw !== null) {
    since = /^\d{1,15}$/.test(raw)
      ? Number(raw)
      : /^\d{4}-\d\d-\d\d/.test(raw)
        ? Date.parse(raw)
        : Number.NaN;
    if (Number.isNaN(since))
      return badField('since', `expected an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(raw)}`);
  }
  const rawAfter = request.query.get('after');
  let after: number | undefined;
  if (rawAfter !== null) {
    after = /^\d{1,16}$/.test(rawAfter) ? Number(rawAfter) : Number.NaN;
    if (!Number.isSafeInteger(after))
      return badField('after', `expected an event's id (digits), got ${JSON.stringify(rawAfter)}`);
  }
  const { events, workers } = await control.events(since, after);
  return {
    status: 200,
    body: {
      kept: EVENTS_KEPT,
      workers,
      events: events.map((event) => ({ ...event, summary: describeEvent(event) })),
    },
  };
}

/**
 * No secret is shown: the admin token lives in a file or a variable, and only which one
 * is named; target URLs cannot carry credentials (the loader refuses them); a password
 * in the store's or the collector's URL is shown as *** (config-view.ts).
 */
function config({ control }: Admin): AdminAnswer {
  return { status: 200, body: { version: control.version, config: configView(control.config) } };
}

async function reload({ control }: Admin, request: AdminRequest): Promise<AdminAnswer> {
  // No body: the running file, as SIGHUP. { "file": PATH }: only if PATH is that file.
  let named: string | undefined;
  if (request.body !== undefined) {
    const parsed = objectBody(request.body, ['file']);
    if ('refused' in parsed) return parsed.refused;
    const file = stringField(parsed.fields, 'file');
    if (typeof file !== 'string') return file;
    if (!isAbsolute(file)) return badField('file', `expected an absolute path, got ${JSON.stringify(file)}`);
    named = file;
  }
  const report = await control.reload(caller(request), named);
  if (report.result === 'not_running_file')
    return problem(
      409,
      'Not the running file',
      `the gateway runs ${report.running_file} and a reload reads only that file: ${report.named_file} was not read and nothing changed (edit ${report.running_file}, or restart the gateway with --config ${report.named_file})`,
      { reload: report },
    );
  if (report.result === 'draining')
    return problem(
      409,
      'Draining',
      `the gateway is draining (shutting down): it reloads nothing more; ${report.file} ${report.read_stopped ? 'was being read: that read was given up and nothing changed' : report.swap_stopped ? 'was read, and every worker gave its swap up: nothing changed' : 'was not read and nothing changed'}`,
      { reload: report },
    );
  if (report.result === 'ok') return { status: 200, body: report };
  if (report.result === 'invalid')
    return problem(
      400,
      'Invalid config',
      `the reload of ${report.file} was refused whole: each problem names a part that cannot be applied; nothing changed, the running config stays`,
      { reload: report },
    );
  // Every worker answered the swap with an error (not the file's problem) and the primary went
  // back: nothing changed anywhere, no swap is left half done.
  if (report.reverted === true)
    return problem(
      503,
      'Reload refused by the workers',
      `every worker failed to swap to ${report.file} (each one's reason in reload.workers.failed): nothing changed, the running config stays`,
      { reload: report },
    );
  return problem(503, 'Reload incomplete', 'some workers did not confirm the swap', { reload: report });
}

function canaryStatus({ canaries }: Admin): AdminAnswer {
  return { status: 200, body: { canaries: canaries?.status() ?? [] } };
}

/**
 * { route }: the controller's own actions by their names (rollback, or abort, its other name:
 * the canary's share to 0 at once); each is logged with who.
 */
function canaryAction(action: OperatorWord): Handler {
  return async ({ canaries }, request) => {
    const parsed = objectBody(request.body, ['route']);
    if ('refused' in parsed) return parsed.refused;
    const route = stringField(parsed.fields, 'route');
    if (typeof route !== 'string') return route;
    if (canaries === undefined) return problem(404, 'No canary', 'this gateway runs no canary controller');
    const result = await canaries.act(route, action, `admin ${request.who}`);
    if ('problem' in result)
      return result.problem.includes('has no canary')
        ? badField('route', result.problem)
        : problem(409, 'Conflict', result.problem, { field: 'route' });
    return { status: 200, body: { canary: result.status } };
  };
}

/**
 * ?route=NAME drops that route's stored answers, &key=PREFIX only its keys that start so
 * ("host path?query"); neither: every route's. &wait=DURATION: how long the workers have to
 * count what they removed, once it is in effect (purge-answer.ts).
 */
async function cachePurge({ control }: Admin, request: AdminRequest): Promise<AdminAnswer> {
  const selection = purgeSelection(request.query, request.body);
  if ('status' in selection) return selection;
  const { route, key, wait } = selection;
  const result = await control.purge({ route, key }, caller(request), wait);
  if ('problem' in result) return badField(result.problem.field, result.problem.detail);
  return purgeAnswer({ route: route ?? null, key: key ?? null }, result);
}

/**
 * GET /metrics on the admin API, behind its token: the same exposition as the metrics
 * listener. A scrape that fails (a worker that does not answer in time) is a 503 the scraper
 * records as down, never a partial page it would take for the truth.
 */
export function metricsRoute(render: RenderMetrics): AdminRoute {
  return {
    method: 'GET',
    path: '/metrics',
    async handle() {
      try {
        const { contentType, text } = await render();
        return { status: 200, body: undefined, text: { contentType, body: text } };
      } catch (err) {
        return problem(503, 'Metrics unavailable', (err as Error).message);
      }
    },
  };
}
