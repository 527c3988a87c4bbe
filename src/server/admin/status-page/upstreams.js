// Each upstream with its targets (their state and the buttons that act on them), and the hops
// shown as upstreams are: auth services, plugins' time, the certificates the gateway orders.
import { targetAction } from './actions.js';
import { $, badge, clock, date, el } from './dom.js';

export function renderUpstream(name, upstream) {
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
    // No good answer yet: nothing is kept, the upstream has no target.
    if (found.failure && found.targets.length === 0)
      facts.push(`question failed (${found.failure}): no target found yet`);
    else if (found.failure) facts.push(`last question failed (${found.failure}): last good set kept`);
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
      // By its origin, as the log lines and the metrics name it (the config's spelling on hover).
      el('td', { class: 'mono', title: t.url }, t.origin ?? t.url),
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

/** Each auth hop as an upstream is shown: its circuit (a forward-auth service's upstream's), its answers, its latest failure. */
export function renderAuthHops(hops) {
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

/** Each plugin's hook calls, failures (threw or refused), overruns, errors nothing caught and time, summed over the workers. */
export function renderPlugins(plugins) {
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
      el('td', { class: 'uncaught' }, String(p.uncaught ?? 0)),
      el('td', { class: 'seconds' }, `${p.seconds.toFixed(3)} s`),
    ),
  );
  $('plugins').tBodies[0].replaceChildren(...rows);
}

/** Each certificate the gateway orders: an expired one, or one whose last order failed, in red. */
export function renderCertificates(certificates) {
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
