// The gateway's own state (its config and where it comes from, the last reload, the workers, the
// stores) and the routes table; the upstreams and hops are drawn by upstreams.js.
import { maintenance } from './actions.js';
import { $, badge, clock, el } from './dom.js';
import { renderAuthHops, renderCertificates, renderPlugins, renderUpstream } from './upstreams.js';

/** A route cache's stored answers given in place of a failed upstream: how many, by the failure that made each. */
function staleText(cache) {
  if (!cache) return '—';
  const causes = Object.entries(cache.stale).sort(([, a], [, b]) => b - a);
  const total = causes.reduce((sum, [, n]) => sum + n, 0);
  return total === 0 ? '0' : `${total}: ${causes.map(([cause, n]) => `${cause} ${n}`).join(', ')}`;
}

/** The 401s and 403s a route's access rules answered, by method: `GET 401 ×3, 403 ×1; POST 403 ×2`. */
function refusedText(refused) {
  const parts = Object.entries(refused ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([method, counts]) => {
      const statuses = ['401', '403'].filter((status) => counts[status] > 0);
      return `${method} ${statuses.map((status) => `${status} ×${counts[status]}`).join(', ')}`;
    });
  return parts.length === 0 ? '0' : parts.join('; ');
}

/**
 * Where the config comes from: its file, or a fleet's etcd key with the revision it runs,
 * whether etcd can be read (and since when not), and the last revision it refused.
 */
function sourceText(config) {
  const etcd = config.etcd;
  if (!etcd) return [`file ${config.source}`];
  const refused = etcd.refused
    ? `; refused revision ${etcd.refused.revision} at ${clock(etcd.refused.at)}: ${etcd.refused.problems[0] ?? ''}`
    : '';
  return [
    badge(etcd.reachable ? 'reachable' : 'unreachable', etcd.reachable ? 'closed' : 'open'),
    ` etcd ${etcd.key}: ${etcd.summary}${etcd.author ? ` (pushed by ${etcd.author})` : ''}${refused}`,
  ];
}

/** The last reload as `last_reload` has it: a refused one red, with why, and the workers that did not swap. */
function reloadText(reload) {
  if (reload === null) return ['none since start'];
  const when = ` at ${clock(reload.at)} via ${reload.via} (${reload.who})`;
  if (reload.result === 'ok') return [`ok${when}`];
  const [first, ...more] = reload.problems ?? [];
  const why = first
    ? `: ${first.line > 0 ? `line ${first.line}, ` : ''}${first.path ? `${first.path}: ` : ''}${first.message}${more.length > 0 ? ` (and ${more.length} more)` : ''}`
    : '';
  const failed = reload.workers.failed.map((w) => `worker ${w.id}: ${w.reason}`).join('; ');
  const stays = reload.result === 'invalid' || reload.reverted ? '; the running config stays' : '';
  return [badge(reload.result, 'open'), `${when}${why}${failed ? `; not swapped by ${failed}` : ''}${stays}`];
}

/**
 * The workers that answered, and those replacing workers that died while they wait out the
 * restart backoff (`workers_restarting`: `workers` lists one fewer until then), in red.
 */
function workersText(status, answered) {
  const draining = status.workers.some((w) => w.draining) ? ', draining' : '';
  const counted = `${answered} of ${status.workers.length} answered${draining}`;
  const waiting = status.workers_restarting ?? [];
  if (waiting.length === 0) return [counted];
  const each = waiting.map(
    (w) =>
      `worker ${w.replaces.pid ?? '?'} ${typeof w.replaces.exit === 'number' ? `exited with code ${w.replaces.exit}` : `ended by ${w.replaces.exit}`} (${w.short_lived_in_a_row} short-lived in a row), replaced at ${clock(w.starts_at)}`,
  );
  return [badge('restarting', 'open'), ` ${counted}; ${waiting.length} restarting: ${each.join('; ')}`];
}

export function renderStatus(status) {
  $('gateway-name').textContent = status.gateway;
  $('config-hash').textContent = `${status.config.hash ?? '?'} (version ${status.config.version})`;
  $('config-source').replaceChildren(...sourceText(status.config));
  $('last-reload').replaceChildren(...reloadText(status.last_reload));
  const answered = status.workers.filter((w) => w.answered).length;
  $('workers').replaceChildren(...workersText(status, answered));
  const store = status.store;
  $('store').replaceChildren(
    ...(store
      ? [
          badge(store.state, store.state === 'up' ? 'closed' : 'open'),
          ` ${store.address} since ${clock(store.since)}${store.reason ? ` (${store.reason})` : ''}, ${store.workers_up} of ${answered} workers connected, on error: ${store.on_error}`,
        ]
      : ['none (each gateway keeps its own rate limits)']),
  );
  // The Redis OpenID Connect routes keep their sessions in: shown only when a route has one.
  const sessionStores = status.session_stores ?? [];
  $('session-stores-label').hidden = $('session-stores').hidden = sessionStores.length === 0;
  $('session-stores').replaceChildren(
    ...sessionStores.flatMap((s, i) => [
      ...(i === 0 ? [] : [el('br')]),
      badge(s.state, s.state === 'up' ? 'closed' : 'open'),
      ` ${s.address} (${s.prefix}) since ${clock(s.since)}${s.reason ? ` (${s.reason})` : ''}, ${s.workers_up} of ${answered} workers connected`,
    ]),
  );

  const upstreams = [];
  for (const [name, upstream] of Object.entries(status.upstreams))
    upstreams.push(renderUpstream(name, upstream));
  $('upstreams').replaceChildren(...upstreams);

  const rows = Object.entries(status.routes).map(([name, route]) => {
    const m = route.maintenance;
    const state = m.active ? `on (${m.source})` : 'off';
    return el(
      'tr',
      { 'data-route': name },
      el('td', { class: 'mono' }, name),
      // A route that redirects has no upstream: it answers itself.
      el('td', { class: 'mono' }, route.upstream ?? '(redirect)'),
      el('td', { class: 'maintenance' }, badge(state, m.active ? 'on' : 'off')),
      el('td', { class: 'cache' }, route.cache ? `${route.cache.entries} stored` : '—'),
      el('td', { class: 'stale' }, staleText(route.cache)),
      el('td', { class: 'refused' }, refusedText(route.refused)),
      el(
        'td',
        {},
        el(
          'button',
          {
            type: 'button',
            'data-action': m.active ? 'maintenance-off' : 'maintenance-on',
            onclick: () => maintenance(name, !m.active),
          },
          m.active ? 'End maintenance' : 'Start maintenance',
        ),
      ),
    );
  });
  $('routes').tBodies[0].replaceChildren(...rows);
  renderCertificates(status.certificates ?? []);
  renderAuthHops(status.auth_hops ?? {});
  renderPlugins(status.plugins ?? {});
}
