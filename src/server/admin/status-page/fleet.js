// A fleet gateway's list of the fleet (GET /fleet): each gateway's revision, the config canary.
import { call, Unauthorized } from './api.js';
import { $, badge, clock, el } from './dom.js';

/** Each look at the fleet reads etcd: every few seconds is enough for a list of gateways. */
const FLEET_POLL_MS = 3_000;
let fleetReadAt = 0;

/** A fleet gateway's page lists the fleet (GET /fleet); a gateway run from a file has none. */
export async function refreshFleet(etcd) {
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
