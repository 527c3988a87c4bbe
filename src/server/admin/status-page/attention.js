// What needs attention, the worst first: the list at the top of the page.
import { $, clock, el } from './dom.js';

/**
 * What GET /status says is wrong, each as [rank, words]: a lower rank is worse. The gateway
 * itself first (workers gone, a reload refused, a store down), then whole upstreams (circuit
 * open, panic), then targets out of rotation by their own failure (an operator's drain is no
 * trouble), then what is deliberate or partial (maintenance, a canary stopped).
 */
export function troubles(status, canaries) {
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
    // Before its first good answer a discovered upstream has no set to keep: every request gets
    // the DNS failure (undiscovered.ts), an upstream down whole, not a kept set's warning.
    if (u.discovery?.failure && u.discovery.targets.length === 0)
      add(
        2,
        `upstream ${name}: DNS failing (${u.discovery.failure}), no target found yet: every request gets its failure`,
      );
    else if (u.discovery?.failure)
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

export function renderAttention(lines) {
  $('attention-section').hidden = lines.length === 0;
  $('attention').replaceChildren(...lines.map((words) => el('li', {}, words)));
}
