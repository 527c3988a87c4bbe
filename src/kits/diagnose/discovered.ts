import { Resolver } from 'node:dns/promises';
import type { DiscoveryConfig, GatewayConfig } from '../../core/config/types.ts';
import { withDiscovered } from '../../upstream/discovery/discoveries.ts';
import { askDns, type DnsAnswer, eachResolver, QUERY_OPTIONS } from '../../upstream/discovery/dns-answer.ts';
import { createTargetCheck, gatewayListeners } from '../../upstream/discovery/refused-targets.ts';
import { undiscoveredFailure } from '../../upstream/discovery/undiscovered.ts';

/**
 * For `candor diagnose --config FILE NAME` on an upstream found by DNS: asks its name once, as
 * the gateway would (same resolvers, same record type), so every address of the answer is
 * probed. Returns the config with those targets and a line saying what DNS answered, or the
 * failure and what the gateway, holding no earlier answer, would answer each request with
 * (`502 dns_error rcode NXDOMAIN`: undiscovered.ts).
 */
export async function discoverForDiagnose(
  config: GatewayConfig,
  name: string,
): Promise<{ config: GatewayConfig; said: string } | { failure: string; answered: string }> {
  const discovery = config.upstreams[name]?.discovery;
  if (discovery === undefined) return { config, said: '' };
  const resolver = new Resolver(QUERY_OPTIONS);
  if (discovery.resolvers.length > 0) resolver.setServers([...discovery.resolvers]);
  const asked = `${discovery.type} ${discovery.dns}${discovery.resolvers.length > 0 ? ` at ${discovery.resolvers.join(', ')}` : ''}`;
  try {
    // The records the gateway would refuse are not probed either.
    const answer = await askDns(
      resolver,
      discovery,
      createTargetCheck(discovery.allow, gatewayListeners(config)),
      // As the gateway asks: the next server listed at a SERVFAIL or REFUSED.
      eachResolver(resolver.getServers()),
    );
    if (answer.targets.length === 0)
      return {
        failure: `DNS ${asked}: ${answer.refused.length > 0 ? `every record refused as a target: ${named(answer.refused)}` : 'no record'}`,
        answered: gatewayAnswer(name, discovery, answer.refused.length > 0 ? 'EBADRECORD' : 'empty'),
      };
    const targets = answer.targets.map((t) => {
      const said = [
        t.weight === 1 ? '' : `weight ${t.weight}`,
        t.priority === 0 ? '' : `priority ${t.priority}`,
      ];
      const notes = said.filter((s) => s !== '').join(', ');
      return notes === '' ? t.url : `${t.url} (${notes})`;
    });
    const ttl = answer.ttl === undefined ? '' : `, TTL ${answer.ttl}s`;
    const report = {
      upstream: name,
      targets: answer.targets,
      changed_at: null,
      resolved_at: null,
      failure: null,
    };
    return {
      config: withDiscovered(config, new Map([[name, report]])),
      said: `DNS ${asked}: ${targets.join(', ')}${ttl}${leftOut(answer)}`,
    };
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    return {
      failure: `DNS ${asked}: ${code === 'ENODATA' ? 'no record' : code}`,
      answered: gatewayAnswer(name, discovery, code === 'ENODATA' ? 'empty' : code),
    };
  }
}

/** Records named in a line at most, as the gateway's own `warn` line names them. */
const MAX_NAMED = 10;

/** "0.0.0.0 (an unspecified address), …": the records the gateway would leave out, each with why. */
function named(refused: DnsAnswer['refused']): string {
  const shown = refused.slice(0, MAX_NAMED).map((r) => `${r.record} (${r.why})`);
  const more = refused.length - shown.length;
  return `${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** What the gateway would leave out of an answer it takes: its refused records, and those past max_targets. */
function leftOut(answer: DnsAnswer): string {
  const parts = [
    ...(answer.refused.length > 0 ? [named(answer.refused)] : []),
    ...(answer.cut > 0 ? [`${answer.cut} past max_targets`] : []),
  ];
  return parts.length === 0 ? '' : `; left out: ${parts.join(', ')}`;
}

/** "502 dns_error rcode NXDOMAIN": the answer a request would get from the gateway. */
function gatewayAnswer(name: string, discovery: DiscoveryConfig, failure: string): string {
  const answer = undiscoveredFailure(name, discovery, failure);
  const rcode = answer.params.rcode;
  return `${answer.status} ${answer.type}${rcode === undefined ? '' : ` rcode ${rcode}`}`;
}
