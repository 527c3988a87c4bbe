// The status page's script: it polls the admin API (GET /status, GET /activity and GET /events, once a
// second) with the token kept in this tab's sessionStorage. Polling rather than server-sent
// events because an EventSource cannot send an Authorization header, and the token must not
// travel in a URL (it would land in logs and history). Every value is put in the page as text
// (textContent), never as markup: target URLs, failure details and route names come from
// configs and upstreams, not from this page.

const TOKEN_KEY = 'candor-admin-token';
const POLL_MS = 1000;
/** The chart's width in seconds: the window each worker keeps (metrics/activity.ts). */
const WINDOW_S = 300;

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

const badge = (text, kind = text) => el('span', { class: `badge ${kind}` }, text);
/**
 * A time in the viewer's zone: alone when it is of the viewer's today, else with its date (a
 * reload, or a store down, since the day before is not read as today's).
 */
function clock(iso) {
  if (!iso) return '';
  const at = new Date(iso);
  return at.toDateString() === new Date().toDateString()
    ? at.toLocaleTimeString()
    : at.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}
const date = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

class Unauthorized extends Error {}

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let timer;

async function call(method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const json = await res.json().catch(() => ({}));
  if (res.status === 401) throw new Unauthorized(json.detail ?? 'unauthorized');
  if (!res.ok) throw new Error(`${res.status} ${json.title ?? ''}: ${json.detail ?? ''}`);
  return json;
}

// ── the token ──────────────────────────────────────────────────────────────────

function askForToken(message, refused) {
  clearTimeout(timer);
  $('auth').hidden = false;
  $('auth').classList.toggle('refused', refused);
  $('auth-message').textContent = message;
  $('data').hidden = true;
  $('token').focus();
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token').value = '';
  $('auth').hidden = true;
  refresh();
});

$('token-change').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = '';
  askForToken('Enter the admin token.', false);
});

// ── polling ────────────────────────────────────────────────────────────────────

/** Each look at the fleet reads etcd: every few seconds is enough for a list of gateways. */
const FLEET_POLL_MS = 3_000;
let fleetReadAt = 0;

/** A fleet gateway's page lists the fleet (GET /fleet); a gateway run from a file has none. */
async function refreshFleet(etcd) {
  $('fleet-section').hidden = !etcd;
  if (!etcd || Date.now() - fleetReadAt < FLEET_POLL_MS) return;
  fleetReadAt = Date.now();
  try {
    renderFleet(await call('GET', '/fleet'));
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    $('fleet-summary').textContent = `The fleet's records cannot be read now: ${err.message}`;
  }
}

function renderFleet(fleet) {
  const behind = fleet.gateways.filter((g) => g.behind).length;
  $('fleet-summary').textContent =
    `${fleet.key}: ${fleet.latest === 0 ? 'no config under the key (none pushed, or it was deleted: each gateway keeps what it runs)' : `latest revision ${fleet.latest}`}, ${fleet.gateways.length} live gateway(s)${behind === 0 ? '' : `, ${behind} behind`}`;
  const rows = fleet.gateways.map((g) =>
    el(
      'tr',
      { 'data-gateway': g.name },
      el('td', { class: 'mono' }, g.name),
      el('td', { class: 'mono' }, g.address),
      el('td', {}, g.version),
      el(
        'td',
        { class: 'revision' },
        g.behind
          ? badge(`BEHIND: ${g.revision}`, 'open')
          : g.on_canary
            ? badge(`CANARY: ${g.revision}`, 'mixed')
            : String(g.revision),
      ),
      el('td', {}, clock(g.since)),
      el(
        'td',
        { class: 'refused' },
        g.refused ? `revision ${g.refused.revision}: ${g.refused.problems[0] ?? ''}` : '—',
      ),
      el('td', {}, g.unreachable_since ? `unreachable since ${clock(g.unreachable_since)}` : 'reachable'),
    ),
  );
  $('fleet').tBodies[0].replaceChildren(...rows);
  // The config canary running or last ended, in the line `candor fleet status` prints.
  const canary = fleet.canary;
  $('fleet-canary').hidden = !canary;
  $('fleet-canary').textContent = canary
    ? `${canary.line}${canary.phase === 'running' && canary.last_look ? ` (look ${canary.look}/${canary.looks}: ${canary.last_look})` : ''}`
    : '';
}

/**
 * One look at a time. A refresh asked for while a look is under way (an action's, after its
 * answer) waits for that look and runs in place of its timer: else each such call would start a
 * polling loop of its own, beside the timer's, and every later action one more.
 */
let looking = false;
let lookAgain = false;

async function refresh() {
  clearTimeout(timer);
  if (looking) {
    lookAgain = true;
    return;
  }
  looking = true;
  const goOn = await look();
  looking = false;
  if (lookAgain) {
    lookAgain = false;
    return refresh();
  }
  if (goOn) timer = setTimeout(refresh, POLL_MS);
}

/** Reads the gateway's state and shows it: false when the page waits for a token instead. */
async function look() {
  if (token === '') {
    askForToken('Every figure on this page comes from the admin API, which needs its token.', false);
    return false;
  }
  // The token the answers are for: one changed meanwhile ("Change token") has its own look.
  const asked = token;
  try {
    // The changes of the chart's window, with a minute to spare for a clock apart from the gateway's.
    const since = Date.now() - (WINDOW_S + 60) * 1000;
    const [status, activity, events, canary] = await Promise.all([
      call('GET', '/status'),
      call('GET', '/activity'),
      call('GET', `/events?since=${since}`),
      call('GET', '/canary'),
    ]);
    if (token !== asked) return false;
    $('data').hidden = false;
    $('auth').hidden = true;
    const focused = focusedButton();
    renderStatus(status);
    await refreshFleet(status.config.etcd);
    renderActivity(activity, events.events);
    renderCanaries(canary.canaries);
    renderAttention(troubles(status, canary.canaries));
    focusAgain(focused);
    $('updated').textContent = new Date().toLocaleTimeString();
    if ($('notice').dataset.kind === 'unreachable') showNotice('', '');
  } catch (err) {
    if (err instanceof Unauthorized) {
      askForToken(`The admin API refused the token (401: ${err.message}). Enter the admin token.`, true);
      return false;
    }
    showNotice(`Could not read the gateway's state: ${err.message}. Retrying…`, 'error', 'unreachable');
  }
  return true;
}

/**
 * The button the operator is on (keyboard focus), named by what it acts on: a look redraws its
 * table, and the focus went to the page's body every second. Matched by attributes, not by a
 * selector: target URLs and route names are any text.
 */
function focusedButton() {
  const button = document.activeElement;
  const owner = button?.dataset?.action ? button.closest('[data-target], [data-route]') : null;
  if (!owner) return undefined;
  return { action: button.dataset.action, tag: owner.tagName, ...owner.dataset };
}

function focusAgain(was) {
  if (was === undefined || (document.activeElement?.isConnected && document.activeElement !== document.body))
    return;
  const { action, tag, ...owned } = was;
  for (const button of document.querySelectorAll(`#data button[data-action="${action}"]`)) {
    const owner = button.closest('[data-target], [data-route]');
    if (owner?.tagName !== tag) continue;
    const same = Object.entries(owned).every(([name, value]) => owner.dataset[name] === value);
    if (same) return button.focus();
  }
}

function showNotice(text, kind, tag = '') {
  const notice = $('notice');
  notice.hidden = text === '';
  notice.textContent = text;
  notice.className = kind;
  notice.dataset.kind = tag;
}

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

// ── status: upstreams, targets, routes, config ─────────────────────────────────

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

// ── what needs attention, the worst first ──────────────────────────────────────

/**
 * What GET /status says is wrong, each as [rank, words]: a lower rank is worse. The gateway
 * itself first (workers gone, a reload refused, a store down), then whole upstreams (circuit
 * open, panic), then targets out of rotation by their own failure (an operator's drain is no
 * trouble), then what is deliberate or partial (maintenance, a canary stopped).
 */
function troubles(status, canaries) {
  const found = [];
  const add = (rank, words) => found.push([rank, words]);
  const gone = status.workers.filter((w) => !w.answered).length;
  if (gone > 0) add(0, `${gone} of ${status.workers.length} workers did not answer`);
  for (const w of status.workers_restarting ?? [])
    add(0, `worker ${w.replaces.pid ?? '?'} died: its replacement starts at ${clock(w.starts_at)}`);
  if (status.workers.some((w) => w.draining)) add(0, 'the gateway is draining (shutting down)');
  const reload = status.last_reload;
  if (reload !== null && reload.result !== 'ok')
    add(1, `the last reload, at ${clock(reload.at)}, was ${reload.result}`);
  if (status.config.etcd && !status.config.etcd.reachable)
    add(1, `etcd ${status.config.etcd.key} unreachable`);
  if (status.store && status.store.state !== 'up')
    add(
      1,
      `rate-limit store ${status.store.address} ${status.store.state} (on error: ${status.store.on_error})`,
    );
  for (const s of status.session_stores ?? [])
    if (s.state !== 'up') add(1, `session store ${s.address} ${s.state}`);
  for (const [name, u] of Object.entries(status.upstreams)) {
    if (u.circuit.state !== 'closed') add(2, `upstream ${name}: circuit ${u.circuit.state}`);
    if (u.panic) add(2, `upstream ${name}: panic (requests go to targets failing their checks)`);
    if (u.discovery?.failure)
      add(3, `upstream ${name}: DNS failing (${u.discovery.failure}), last good set kept`);
    const count = (test) => u.targets.filter(test).length;
    const ejected = count((t) => t.ejected);
    const unhealthy = count((t) => t.health === 'unhealthy');
    const halfOpen = count((t) => !t.ejected && t.circuit?.state === 'half_open');
    const of = ` of ${u.targets.length} targets`;
    if (ejected > 0) add(3, `upstream ${name}: ${ejected}${of} ejected`);
    if (unhealthy > 0) add(3, `upstream ${name}: ${unhealthy}${of} failing their health checks`);
    if (halfOpen > 0) add(4, `upstream ${name}: ${halfOpen}${of} half-open (on probation)`);
  }
  for (const [name, hop] of Object.entries(status.auth_hops ?? {}))
    if (hop.circuit && hop.circuit.state !== 'closed')
      add(2, `auth hop ${name}: circuit ${hop.circuit.state}`);
  for (const c of status.certificates ?? [])
    if (c.state === 'expired' || c.state === 'missing') add(2, `certificate ${c.names[0]}: ${c.state}`);
  for (const c of canaries)
    if (c.phase === 'rolled_back' || c.phase === 'held')
      add(4, `canary of route ${c.route}: ${c.phase.replace('_', ' ')}`);
  for (const [name, route] of Object.entries(status.routes))
    if (route.maintenance.active) add(5, `route ${name}: in maintenance (${route.maintenance.source})`);
  // Stable: within a rank, in the order GET /status lists them.
  return found.sort(([a], [b]) => a - b).map(([, words]) => words);
}

function renderAttention(lines) {
  $('attention-section').hidden = lines.length === 0;
  $('attention').replaceChildren(...lines.map((words) => el('li', {}, words)));
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

function renderStatus(status) {
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

/** Each auth hop as an upstream is shown: its circuit (a forward-auth service's upstream's), its answers, its latest failure. */
function renderAuthHops(hops) {
  const entries = Object.entries(hops);
  $('auth-hops-section').hidden = entries.length === 0;
  const rows = entries.map(([name, hop]) =>
    el(
      'tr',
      { 'data-auth-hop': name },
      el('td', { class: 'mono' }, name),
      el('td', {}, hop.kind),
      el('td', { class: 'mono' }, hop.upstream ?? '—'),
      el(
        'td',
        { class: 'circuit' },
        hop.circuit === null ? '—' : badge(hop.circuit.state),
        hop.circuit?.open_until ? ` until ${clock(hop.circuit.open_until)}` : '',
      ),
      el('td', { class: 'allowed' }, String(hop.counts.allowed)),
      el('td', { class: 'denied' }, String(hop.counts.denied)),
      el('td', { class: 'fetched' }, String(hop.counts.fetched)),
      el('td', { class: 'failed' }, String(hop.counts.failed)),
      el(
        'td',
        { class: 'last-failure' },
        hop.last_failure
          ? `${hop.last_failure.type} at ${clock(hop.last_failure.at)}: ${hop.last_failure.details}`
          : '—',
      ),
    ),
  );
  $('auth-hops').tBodies[0].replaceChildren(...rows);
}

/** Each plugin's hook calls, failures (threw or refused), overruns and time, summed over the workers. */
function renderPlugins(plugins) {
  const entries = Object.entries(plugins);
  $('plugins-section').hidden = entries.length === 0;
  const rows = entries.map(([name, p]) =>
    el(
      'tr',
      { 'data-plugin': name },
      el('td', { class: 'mono' }, name),
      el('td', { class: 'calls' }, String(p.calls)),
      el('td', { class: 'failures' }, String(p.failures)),
      el('td', { class: 'overruns' }, String(p.overruns)),
      el('td', { class: 'seconds' }, `${p.seconds.toFixed(3)} s`),
    ),
  );
  $('plugins').tBodies[0].replaceChildren(...rows);
}

/**
 * Each canary: its phase, share and step, the last window's figures, its latest actions, and the
 * one click (roll back, promote). Red with the reason when a verdict rolled it back or paused it.
 */
function renderCanaries(canaries) {
  $('canaries-section').hidden = canaries.length === 0;
  const panels = canaries.map((c) => {
    const failed = c.failed_metric !== null;
    const last = c.last_verdict;
    const figures =
      last === null
        ? 'not looked at yet'
        : `look ${last.look} of ${last.looks} at this step: ${
            last.decided
              ? last.metrics
                  .map((m) => `${m.metric}: ${m.canary} vs ${m.baseline} (p ${m.p.toPrecision(3)})`)
                  .join('; ')
              : last.answers !== undefined
                ? `not judged: the canary answered ${last.answers} of its ${last.requests.canary} requests`
                : `not judged: ${last.requests.canary} canary and ${last.requests.baseline} baseline requests so far`
          }`;
    const buttons = [];
    if (c.phase !== 'rolled_back')
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'rollback', onclick: () => canaryAction(c.route, 'rollback') },
          'Roll back',
        ),
      );
    if (c.phase !== 'promoted')
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'promote', onclick: () => canaryAction(c.route, 'promote') },
          'Promote',
        ),
      );
    if (c.phase === 'running')
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'pause', onclick: () => canaryAction(c.route, 'pause') },
          'Pause',
        ),
      );
    else
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'start', onclick: () => canaryAction(c.route, 'start') },
          'Start',
        ),
      );
    return el(
      'div',
      {
        class: `canary ${failed ? 'failed' : c.phase === 'running' || c.phase === 'promoted' ? '' : 'stopped'}`,
        'data-route': c.route,
      },
      el(
        'p',
        {},
        el('strong', { class: 'mono' }, c.route),
        ` ${c.canary} against ${c.baseline}: `,
        badge(c.phase.replace('_', ' '), c.phase),
        ` ${c.share}% (step ${c.step} of ${c.steps.length}: ${c.steps.join(' → ')}%)`,
      ),
      ...(c.reason === null ? [] : [el('p', { class: 'reason' }, c.reason)]),
      el('p', { class: 'note' }, figures),
      el(
        'ul',
        { class: 'actions' },
        ...c.actions.slice(-5).map((a) => el('li', {}, `${clock(a.at)} ${a.summary}`)),
      ),
      el('div', {}, ...buttons),
    );
  });
  $('canaries').replaceChildren(...panels);
}

const CANARY_WHAT = {
  rollback: ['Roll back', 'Its share goes to 0 at once: every request goes to the baseline.'],
  promote: ['Promote', 'It takes every request: the baseline gets none.'],
  pause: ['Pause', 'Its share stays where it is and nothing moves until it is started again.'],
  start: ['Start', 'It moves again: on from the step it paused at, at its share, else from the first.'],
};

async function canaryAction(route, action) {
  const [verb, what] = CANARY_WHAT[action];
  const confirmed = await confirmAction(`${verb} the canary of route ${route}?`, what);
  if (confirmed === undefined) return;
  try {
    const answer = await call('POST', `/canary/${action}`, { route });
    showNotice(
      `Canary of ${route}: ${answer.canary.phase.replace('_', ' ')} at ${answer.canary.share}%.`,
      'done',
    );
  } catch (err) {
    if (err instanceof Unauthorized)
      return askForToken(`The admin API refused the token (401: ${err.message}).`, true);
    showNotice(`${verb} of the canary of ${route} failed: ${err.message}`, 'error');
  }
  refresh();
}

/** Each certificate the gateway orders: an expired one, or one whose last order failed, in red. */
function renderCertificates(certificates) {
  $('certificates-section').hidden = certificates.length === 0;
  const kinds = { valid: 'closed', ordering: 'mixed', missing: 'open', expired: 'open' };
  const rows = certificates.map((c) =>
    el(
      'tr',
      { 'data-certificate': c.names[0] },
      el('td', { class: 'mono' }, c.names.join(', ')),
      el('td', { class: 'state' }, badge(c.state, kinds[c.state] ?? 'mixed')),
      el('td', {}, c.issuer ?? '—'),
      el('td', { class: 'not-after' }, date(c.not_after)),
      el('td', { class: 'next' }, date(c.next_renewal)),
      el(
        'td',
        { class: 'last-error' },
        c.last_error ? `${c.last_error.type}: ${c.last_error.detail} (${c.failures} in a row)` : '—',
      ),
    ),
  );
  $('certificates').tBodies[0].replaceChildren(...rows);
}

function renderUpstream(name, upstream) {
  const facts = [
    `in flight ${upstream.in_flight}`,
    `pending ${upstream.pending}`,
    `retry tokens ${upstream.retry_budget.tokens}`,
  ];
  if (upstream.circuit.open_until) facts.push(`open until ${clock(upstream.circuit.open_until)}`);
  const found = upstream.discovery;
  if (found) {
    const changed = found.changed_at ? `changed ${clock(found.changed_at)}` : 'no answer yet';
    facts.push(`DNS ${found.type} ${found.dns}: ${found.targets.length} targets, ${changed}`);
    if (found.failure) facts.push(`last question failed (${found.failure}): last good set kept`);
  }
  const head = el(
    'h3',
    {},
    el('span', { class: 'mono' }, name),
    ' circuit ',
    badge(upstream.circuit.state),
    upstream.panic ? badge('panic', 'open') : null,
    el('span', { class: 'facts' }, facts.join(' · ')),
  );
  const rows = upstream.targets.map((t) => {
    const ejected = t.ejected
      ? el(
          'span',
          {},
          badge('ejected'),
          ` until ${clock(t.ejected_until)}`,
          t.workers_ejecting > 1 ? ` (${t.workers_ejecting} workers)` : '',
        )
      : t.circuit?.state === 'half_open'
        ? // Its ejection ran out: its next request (or a passing check) is the probe that ends it.
          el('span', {}, badge('half_open'), ' until its next request passes')
        : 'no';
    const check = t.last_check
      ? `${t.last_check.ok ? 'ok' : (t.last_check.failure ?? `status ${t.last_check.status}`)} at ${clock(t.last_check.at)}`
      : '';
    const failure = t.last_failure ? `${t.last_failure.type} at ${clock(t.last_failure.at)}` : '';
    // A backup tier is named where it is one (priority above 0), as the config writes it.
    const weight = `${t.weight === t.config_weight ? String(t.weight) : `${t.weight} (config ${t.config_weight})`}${t.priority ? `, priority ${t.priority}` : ''}`;
    const act = (label, action, disabled) =>
      el(
        'button',
        { type: 'button', 'data-action': action, disabled, onclick: () => targetAction(name, t, action) },
        label,
      );
    return el(
      'tr',
      { 'data-target': t.url, 'data-upstream': name },
      el('td', { class: 'mono' }, t.url),
      el('td', { class: 'admin' }, badge(t.admin)),
      el('td', { class: 'health', 'data-health': t.health }, badge(t.health)),
      el('td', { class: 'ejected' }, ejected),
      el('td', { class: 'weight' }, weight),
      // Its pool full: the requests waiting for one of its connections (the upstream's `pending` is their sum).
      el(
        'td',
        { class: 'in-flight' },
        t.pool?.waiting > 0
          ? `${t.in_flight} (${t.pool.waiting} waiting for a connection, ${t.pool.open} open)`
          : String(t.in_flight),
      ),
      el('td', { class: 'check' }, check),
      el('td', { class: 'last-failure' }, failure),
      el(
        'td',
        {},
        act('Drain', 'drain', t.admin === 'draining'),
        act('Disable', 'disable', t.admin === 'disabled'),
        act('Enable', 'enable', t.admin === 'enabled'),
        act('Weight…', 'weight', false),
      ),
    );
  });
  const table = el(
    'table',
    {},
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...[
          'Target',
          'Admin',
          'Health',
          'Ejected',
          'Weight',
          'In flight',
          'Last check',
          'Last failure',
          '',
        ].map((h) => el('th', {}, h)),
      ),
    ),
    el('tbody', {}, ...rows),
  );
  return el('div', { class: 'upstream', 'data-upstream': name }, head, table);
}

// ── activity: the chart, the series table, the latest failures ─────────────────

const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs) => {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
};

/** Answers the upstream made are green, the gateway's failures warm colours, clients' grey. */
function colour(series, index) {
  if (series === 'upstream') return '#2da44e';
  if (series.startsWith('client')) return '#8c959f';
  if (series.startsWith('upstream ')) return '#8250df';
  const warm = ['#cf222e', '#e16f24', '#bf8700', '#a40e26', '#fb8f44', '#953800'];
  return warm[index % warm.length];
}

/** Set through the CSSOM: the page's Content-Security-Policy refuses inline style attributes. */
function swatch(background) {
  const node = el('span', { class: 'swatch' });
  node.style.background = background;
  return node;
}

/** Each kind of change its colour, on the chart and in the list. */
const EVENT_COLOURS = {
  reload: '#0969da',
  admin: '#8250df',
  discovery: '#1a7f37',
  health: '#cf222e',
  canary: '#bf8700',
};

function renderActivity(activity, events) {
  const now = Math.floor(activity.now);
  const totals = new Map();
  const sum = (series, from) => {
    let n = 0;
    for (const s of activity.per_second) if (s.t >= from && s.t <= now) n += s.counts[series] ?? 0;
    return n;
  };
  for (const s of activity.per_second)
    for (const [series, n] of Object.entries(s.counts)) totals.set(series, (totals.get(series) ?? 0) + n);
  const names = [...totals.keys()].sort((a, b) =>
    a === 'upstream' ? -1 : b === 'upstream' ? 1 : totals.get(b) - totals.get(a),
  );
  const colours = new Map(names.map((name, i) => [name, colour(name, i)]));

  // The rate "now" averages the last five whole seconds (the current one is still filling):
  // their sum over 5, to one decimal.
  const rows = names.map((series) =>
    el(
      'tr',
      { 'data-series': series },
      el('td', { class: 'mono' }, swatch(colours.get(series)), series),
      el('td', { class: 'rate' }, String(Math.round((sum(series, now - 5) - sum(series, now)) * 2) / 10)),
      el('td', { class: 'last-minute' }, String(sum(series, now - 59))),
      el('td', { class: 'last-5-minutes' }, String(totals.get(series))),
    ),
  );
  if (rows.length === 0)
    rows.push(el('tr', {}, el('td', { colspan: 4, class: 'empty' }, 'No answers in the last 5 minutes.')));
  $('series').tBodies[0].replaceChildren(...rows);
  // Changes on the gateway's clock, as the bars: seconds before its `now`.
  const changes = events
    .map((e) => ({ ...e, age: activity.now - Date.parse(e.at) / 1000 }))
    .filter((e) => e.age >= 0 && e.age < WINDOW_S);
  $('chart').replaceChildren(chart(activity.per_second, names, colours, now, changes));
  const changeRows = changes
    .toReversed()
    .map((e) =>
      el(
        'tr',
        { 'data-kind': e.kind },
        el('td', {}, clock(e.at)),
        el('td', {}, swatch(EVENT_COLOURS[e.kind] ?? '#57606a'), e.kind),
        el('td', { class: 'mono summary' }, e.summary),
      ),
    );
  if (changeRows.length === 0)
    changeRows.push(
      el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'No change in the last 5 minutes.')),
    );
  $('events').tBodies[0].replaceChildren(...changeRows);

  const failures = activity.failures.map((f) =>
    el(
      'tr',
      { 'data-req-id': f.req_id },
      el('td', {}, clock(f.at)),
      el('td', { class: 'mono req-id' }, f.req_id),
      el('td', {}, String(f.status)),
      el('td', {}, f.origin),
      el('td', { class: 'mono error' }, f.error),
      el('td', {}, f.shape),
      el('td', { class: 'mono' }, f.route ?? ''),
      el('td', { class: 'mono' }, f.target ?? f.upstream ?? ''),
      el('td', { class: 'details' }, f.details),
    ),
  );
  if (failures.length === 0)
    failures.push(el('tr', {}, el('td', { colspan: 9, class: 'empty' }, 'No failure yet.')));
  $('failures').tBodies[0].replaceChildren(...failures);
}

/** Stacked bars, one per second, the newest on the right; a dashed line at each change, its words on hover. */
function chart(perSecond, names, colours, now, changes) {
  const width = 900;
  const height = 180;
  const bottom = height - 18;
  const barWidth = width / WINDOW_S;
  // The busiest second's answers, as the label says them (0 with none: not the 1 the bars
  // divide by so that an empty chart has a scale).
  let most = 0;
  for (const s of perSecond) {
    let total = 0;
    for (const n of Object.values(s.counts)) total += n;
    most = Math.max(most, total);
  }
  const peak = Math.max(1, most);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img' });
  root.append(svg('line', { x1: 0, x2: width, y1: bottom, y2: bottom, stroke: '#d9dee5' }));
  for (const s of perSecond) {
    const age = now - s.t;
    if (age < 0 || age >= WINDOW_S) continue;
    const x = width - (age + 1) * barWidth;
    let y = bottom;
    for (const name of names) {
      const n = s.counts[name] ?? 0;
      if (n === 0) continue;
      const h = (n / peak) * (bottom - 14);
      y -= h;
      root.append(svg('rect', { x, y, width: barWidth, height: h, fill: colours.get(name) }));
    }
  }
  for (const change of changes) {
    const x = width - change.age * barWidth;
    const line = svg('line', {
      x1: x,
      x2: x,
      y1: 14,
      y2: bottom,
      stroke: EVENT_COLOURS[change.kind] ?? '#57606a',
      class: 'event',
      'data-kind': change.kind,
      'data-at': change.at,
    });
    const title = svg('title', {});
    title.textContent = `${clock(change.at)} ${change.summary}`;
    line.append(title);
    root.append(line);
  }
  const label = (x, text, anchor) => {
    const node = svg('text', { x, y: height - 4, 'text-anchor': anchor });
    node.textContent = text;
    root.append(node);
  };
  for (let minute = 5; minute >= 1; minute--)
    label(width - (minute * 60 * width) / WINDOW_S, `-${minute} min`, 'start');
  label(width - 2, 'now', 'end');
  const top = svg('text', { x: 4, y: 12 });
  top.textContent = `peak ${most}/s`;
  root.append(top);
  return root;
}

// ── write actions, each behind a confirmation ──────────────────────────────────

/** Opens the confirmation dialog; resolves with the input's value when confirmed, undefined when not. */
function confirmAction(title, text, input) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-input-label').hidden = input === undefined;
  // A weight must be given (an emptied field would go as 0, out of rotation); a dialog without
  // the field does not check what an earlier one left in it.
  $('confirm-input').required = input !== undefined;
  $('confirm-input').disabled = input === undefined;
  if (input !== undefined) $('confirm-input').value = String(input);
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => resolve(dialog.returnValue === 'ok' ? $('confirm-input').value : undefined),
      { once: true },
    );
    dialog.showModal();
    (input === undefined ? $('confirm-cancel') : $('confirm-input')).focus();
  });
}

const WHAT = {
  drain: 'Drain: it takes no new requests; those in flight finish.',
  disable: 'Disable: it takes no request at all, and its idle connections are closed.',
  enable: 'Enable: it takes requests again, as its health allows.',
};

async function targetAction(upstream, target, action) {
  if (action === 'weight') {
    const value = await confirmAction(
      `Set the weight of ${target.url}?`,
      `Upstream ${upstream}. Its share of requests follows its weight (0 takes it out of rotation).`,
      target.weight,
    );
    if (value === undefined) return;
    const weight = Number(value);
    return act(`Weight of ${target.url} set to ${weight}`, 'PUT', '/targets/weights', {
      upstream,
      weights: [{ target: target.url, weight }],
    });
  }
  const confirmed = await confirmAction(
    `${action[0].toUpperCase()}${action.slice(1)} ${target.url}?`,
    `Upstream ${upstream}. ${WHAT[action]}`,
  );
  if (confirmed === undefined) return;
  return act(`${target.url} in ${upstream}: ${action}`, 'POST', `/targets/${action}`, {
    upstream,
    target: target.url,
  });
}

async function maintenance(route, enabled) {
  const confirmed = await confirmAction(
    `${enabled ? 'Start' : 'End'} maintenance on route ${route}?`,
    enabled
      ? 'Every request on this route will be answered 503 with the maintenance page until it ends.'
      : 'Requests on this route will go to its upstream again.',
  );
  if (confirmed === undefined) return;
  return act(`Maintenance ${enabled ? 'on' : 'off'} for route ${route}`, 'PUT', '/routes/maintenance', {
    route,
    enabled,
  });
}

async function act(done, method, path, body) {
  try {
    const answer = await call(method, path, body);
    showNotice(`${done}: confirmed by ${answer.workers.confirmed.length} worker(s).`, 'done');
  } catch (err) {
    if (err instanceof Unauthorized)
      return askForToken(`The admin API refused the token (401: ${err.message}).`, true);
    showNotice(`${done} failed: ${err.message}`, 'error');
  }
  refresh();
}

refresh();
