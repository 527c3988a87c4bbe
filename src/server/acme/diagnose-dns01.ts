import { randomBytes } from 'node:crypto';
import type { Dns01Config } from '../../core/config/types.ts';
import { problemOf } from './acme-problem.ts';
import { Dns01Solver } from './dns01-solver.ts';

/** One check as diagnose-acme.ts prints it (its AcmeStep). */
interface Dns01Step {
  readonly step: 'dns-01';
  readonly ok: boolean;
  readonly summary: string;
  readonly notes: readonly string[];
}

/**
 * `candor diagnose --acme`'s DNS-01 check: what an order does before the CA is asked, done
 * with a probe value of its own — the TXT record added at the primary by a signed update, seen
 * at every authoritative server, removed. A failure is the hop's, as an order would log it
 * (the rcode of a refused update, the server that cannot be reached, the one that never shows
 * the record), with the fix that goes with it.
 */
export async function dns01Step(
  dns01: Dns01Config,
  name: string,
  signal?: AbortSignal,
): Promise<{ step: Dns01Step; verdict?: string; fix?: string; interrupted?: true }> {
  const bare = name.replace(/^\*\./, '');
  const notes: string[] = [];
  // Ctrl-C (or SIGTERM) during the wait for the record to be seen, up to propagation_timeout,
  // ended the process with the probe record in the zone for good: it is listed nowhere a
  // gateway removes records from. The first signal now ends the wait and the record is removed
  // before the exit; a second one ends the process at once, as signals do.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const solver = new Dns01Solver(
    dns01,
    { info: () => {}, warn: (fields, message) => notes.push(`${message}: ${JSON.stringify(fields)}`) },
    signal === undefined ? interrupt.signal : AbortSignal.any([signal, interrupt.signal]),
  );
  const record = `_acme-challenge.${bare}`;
  let failure: unknown;
  try {
    await solver.present(bare, `candor-diagnose-${randomBytes(16).toString('base64url')}`);
  } catch (err) {
    failure = err;
  }
  // Removed before the failure is told, so that a removal that failed is told with it.
  await solver.cleanup(bare);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (interrupt.signal.aborted) {
    const removed = notes.length === 0 ? 'removed' : 'not removed';
    return {
      step: { step: 'dns-01', ok: false, summary: `${record} TXT: interrupted`, notes },
      verdict: `interrupted: the probe record ${record} TXT ${removed}`,
      fix: notes.length === 0 ? 'none needed' : `remove ${record} TXT by hand`,
      interrupted: true,
    };
  }
  if (failure !== undefined) {
    const problem = problemOf(failure);
    return {
      step: {
        step: 'dns-01',
        ok: false,
        summary: `${record} TXT: ${problem.type}`,
        notes: [problem.detail, ...notes],
      },
      verdict: `DNS-01's record for ${name} cannot be written and seen (${problem.type})`,
      fix: fixOf(problem.type, problem.detail),
    };
  }
  return {
    step: {
      step: 'dns-01',
      ok: notes.length === 0,
      summary: `${record} TXT added at ${dns01.server.address}, seen at every authoritative server, removed`,
      notes,
    },
  };
}

/**
 * The fix for a failure: by its type, but for a refusal whose TSIG error is the clock's
 * (`NOTAUTH (TSIG BADTIME)`, as dns-update.ts words it), which no change of the key mends.
 */
function fixOf(type: string, detail: string): string {
  if (type === 'candor:dns-refused' && detail.endsWith('(TSIG BADTIME)'))
    return "this host's clock and the DNS server's are more than 5 minutes apart (TSIG's fudge, RFC 8945 §5.2.3): set both by NTP";
  return FIXES[type] ?? 'see the detail above';
}

const FIXES: Record<string, string> = {
  'candor:dns-refused':
    'let the key acme.dns01.tsig.name update the zone at the primary (its secret and algorithm as the server has them: BADSIG is another secret, BADKEY a name or an algorithm the server has no key of; NOTAUTH without one is a zone the server is not primary for)',
  'candor:dns-unreachable':
    'check acme.dns01.server: the primary, its port, and the route from this host to it',
  'candor:dns-timeout':
    'check acme.dns01.server and any firewall between: the server took the connection but never answered',
  'candor:dns-propagation':
    "check that the primary notifies the zone's secondaries (or list in acme.dns01.nameservers the servers the CA will ask), or raise acme.dns01.propagation_timeout",
  'candor:dns-tsig': "set acme.dns01.tsig.secret_env's variable to the key's base64 secret",
  'candor:dns-bad-answer':
    'acme.dns01.server is not the DNS server it should be, or something between rewrites its answers',
};
