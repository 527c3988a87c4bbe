/**
 * Hop 1, DNS: every address the resolver returns (getaddrinfo, as the gateway's connector
 * uses), classified like the gateway classifies a failed lookup.
 */
import dns from 'node:dns';
import net from 'node:net';
import { classifyConnectError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import { formatMs, since } from './plan.ts';
import type { DnsFacts, Step } from './types.ts';

interface Resolved {
  readonly step: Step;
  readonly addresses: readonly dns.LookupAddress[];
  readonly failure?: Failure;
}

export async function resolveStep(hostname: string, budgetMs: number): Promise<Resolved> {
  const family = net.isIP(hostname);
  if (family !== 0) {
    const facts: DnsFacts = { host: hostname, ipLiteral: true, addresses: [hostname] };
    return {
      step: {
        step: 'dns',
        ok: true,
        ms: null,
        summary: `${hostname} (IP literal, no lookup)`,
        notes: [],
        facts,
      },
      addresses: [{ address: hostname, family }],
    };
  }
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), budgetMs);
  });
  try {
    const result = await Promise.race([dns.promises.lookup(hostname, { all: true }), timedOut]);
    const ms = since(started);
    if (result === 'timeout') {
      const failure = new Failure('dns_timeout', `name lookup not done after ${budgetMs} ms`);
      const facts: DnsFacts = { host: hostname, ipLiteral: false, addresses: [] };
      return {
        step: { step: 'dns', ok: false, ms, summary: `${hostname}: ${failure.details}`, notes: [], facts },
        addresses: [],
        failure,
      };
    }
    if (result.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
    const addresses = result.map((entry) => entry.address);
    const facts: DnsFacts = { host: hostname, ipLiteral: false, addresses };
    const tries = addresses.length > 1 ? ` (the connect tries ${addresses[0]} first)` : '';
    return {
      step: {
        step: 'dns',
        ok: true,
        ms,
        summary: `${hostname} → ${addresses.join(', ')} in ${formatMs(ms)}${tries}`,
        notes: [],
        facts,
      },
      addresses: result,
    };
  } catch (err) {
    const ms = since(started);
    const failure = classifyConnectError(err, 'dns', ms);
    const code = (err as NodeJS.ErrnoException).code;
    const facts: DnsFacts = { host: hostname, ipLiteral: false, addresses: [], code };
    return {
      step: { step: 'dns', ok: false, ms, summary: `${hostname}: ${failure.details}`, notes: [], facts },
      addresses: [],
      failure,
    };
  } finally {
    clearTimeout(timer);
  }
}
