/**
 * An observer: counts requests by tenant (`x-tenant`, else `none`) into
 * `candor_plugin_events_total{plugin="…",name="requests",label="<tenant>"}`, and their time into
 * `candor_plugin_observed`. Written for `on_error: continue`: a bug here is logged and counted,
 * and the request goes on as if the plugin were not there.
 */
import type { Plugin } from 'candor';

interface Options {
  /** The tenants counted by name; any other is counted as `other` (a metric's labels must stay few). */
  readonly tenants: readonly string[];
}

const tenantCounter: Plugin<Options> = (options, context) => {
  const known = new Set(options.tenants);
  const tenantOf = new Map<string, string>();
  return {
    onRequest(request) {
      // The cache's own fetches (a Range's whole answer, a refresh) are no tenant's request.
      if (request.background !== undefined) return;
      const tenant = request.headers.get('x-tenant') ?? 'none';
      if (tenant === 'crash') throw new Error('an observer bug');
      tenantOf.set(request.id, known.has(tenant) || tenant === 'none' ? tenant : 'other');
    },
    onEnd(record) {
      if (record.background !== undefined) return;
      const tenant = tenantOf.get(record.id) ?? 'none';
      tenantOf.delete(record.id);
      context.metrics.count('requests', tenant);
      context.metrics.observe('seconds', record.ms / 1000, tenant);
    },
  };
};

export default tenantCounter;
