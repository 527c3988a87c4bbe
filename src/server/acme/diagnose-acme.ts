import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { isIP } from 'node:net';
import { ACME_NAME } from '../../core/config/schema-acme.ts';
import type { AcmeConfig, GatewayConfig } from '../../core/config/types.ts';
import { printable } from '../../core/printable.ts';
import { acmeRequest } from './acme-http.ts';
import { AcmeStore } from './acme-store.ts';
import { answerableAcme } from './automatic-https.ts';
import { dns01Step } from './diagnose-dns01.ts';

/** One check of `candor diagnose --acme`, as the diagnose command prints its hops. */
export interface AcmeStep {
  readonly step: string;
  readonly ok: boolean;
  readonly summary: string;
  readonly notes: readonly string[];
}

export interface AcmeDiagnosis {
  readonly name: string;
  readonly steps: AcmeStep[];
  /** What would make the CA's validation fail, in one line; or that nothing was found. */
  readonly verdict: string;
  readonly fix: string;
  readonly ok: boolean;
  /** Stopped by a signal during the DNS-01 probe (its record removed first): `candor diagnose` exits 130. */
  readonly interrupted?: true;
}

export interface AcmeDiagnoseOptions {
  /** A DNS server to ask instead of the system's (host:port), as the CA asks its own. */
  readonly dnsServer?: string;
  /** Where the CA's HTTP-01 connection goes: 80, as RFC 8555 §8.3 fixes it (another port for a test CA). */
  readonly httpPort?: number;
  readonly timeoutMs?: number;
}

/**
 * Why an order for NAME fails, or would: the checks a CA makes, in the order it makes them, each
 * told as the diagnose command tells a hop. The name must be one the config orders; the last
 * order's outcome is read from `acme.storage`; then the DNS records the CA will find (A/AAAA,
 * CAA against the CA's own identities), the CA's directory, and whether port 80 of the address
 * the name resolves to reaches this gateway, proved with a probe token put in the store for the
 * gateway to answer (and taken away after).
 */
export async function diagnoseAcme(
  config: GatewayConfig,
  name: string,
  options: AcmeDiagnoseOptions = {},
): Promise<AcmeDiagnosis> {
  const steps: AcmeStep[] = [];
  const done = (verdict: string, fix: string): AcmeDiagnosis => ({
    name,
    steps,
    verdict,
    fix,
    ok: steps.every((s) => s.ok),
  });
  /** A check told: the diagnosis when it found what makes an order fail, undefined to go on. */
  const told = (checked: Checked): AcmeDiagnosis | undefined => {
    steps.push(checked.step);
    return checked.verdict === undefined ? undefined : done(checked.verdict, checked.fix ?? '');
  };
  // Written with its final dot (`shop.example.com.`, as dig prints it), it is the same name.
  const wanted = name.toLowerCase().replace(/(?<=[^.])\.$/, '');
  // The challenges the orders use: no HTTP-01 (nor a port 80 to probe) without a plain listener.
  const acme = config.acme && answerableAcme(config, config.acme);
  const ordering = config.listen.some((l) => l.tls?.acme?.names.includes(wanted));
  if (acme === undefined || !ordering) {
    steps.push({
      step: 'config',
      ok: false,
      summary: `${wanted} is in no listener's tls.acme.names`,
      notes: [],
    });
    return done(
      `the gateway does not order a certificate for ${wanted}`,
      // `candor check` refuses an IP address in tls.acme.names: telling to add one sent the
      // operator to a config that does not load.
      isIP(wanted) !== 0
        ? 'an IP address is not ordered (ACME gives it an identifier of its own, RFC 8738, which Candor does not order): serve it a tls.cert, or order a DNS name that resolves to it'
        : !new RegExp(ACME_NAME).test(wanted)
          ? `${wanted} is no name tls.acme.names takes: a DNS name like www.example.com, or a wildcard like *.example.com`
          : `add ${wanted} to listen[].tls.acme.names of the TLS listener that serves it${
              wanted.startsWith('*.') && config.acme?.dns01 === undefined
                ? ', with acme.dns01 (a wildcard is proven only by DNS-01)'
                : ''
            }`,
    );
  }
  steps.push({
    step: 'config',
    ok: true,
    summary: `ordered from ${acme.directory} by ${acme.challenges.join(', ')}`,
    notes: [],
  });
  const store = new AcmeStore(acme.storage);
  const stored = lastOrder(store, wanted);
  steps.push(stored.step);
  // A name proven in its zone's DNS needs no address the CA connects to: its record is what counts.
  const byDns =
    acme.dns01 !== undefined && (wanted.startsWith('*.') || acme.challenges.every((c) => c === 'dns-01'));
  const probed =
    acme.dns01 !== undefined && acme.challenges.includes('dns-01')
      ? await dns01Step(acme.dns01, wanted)
      : undefined;
  if (probed?.interrupted) {
    steps.push(probed.step);
    return { ...done(probed.verdict ?? 'interrupted', probed.fix ?? ''), interrupted: true };
  }
  const dns01 = probed && told(probed);
  if (dns01 !== undefined) return dns01;
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 5_000, tries: 1 });
  if (options.dnsServer !== undefined) resolver.setServers([options.dnsServer]);
  const resolved = byDns ? undefined : await dnsStep(resolver, wanted);
  const dns = resolved && told(resolved);
  if (dns !== undefined) return dns;
  const directory = await caStep(acme, options.timeoutMs);
  const ca = told(directory) ?? told(await caaStep(resolver, wanted, directory.caaIdentities));
  if (ca !== undefined) return ca;
  const reached =
    acme.challenges.includes('http-01') && !byDns
      ? told(await http01Step(store, wanted, resolved?.addresses ?? [], options))
      : undefined;
  if (reached !== undefined) return reached;
  if (stored.last !== undefined)
    return done(
      `the checks pass, but the last order failed: ${stored.last.type}`,
      'the gateway tries again on its own (next_renewal in /status); if it fails again, the CA says why in the detail above (a rate limit or the CA itself, which these checks cannot see)',
    );
  return done(`nothing found that would make an order for ${wanted} fail`, 'none needed');
}

/** One check's step, and, when it found what makes an order fail, the verdict and its fix. */
interface Checked {
  readonly step: AcmeStep;
  readonly verdict?: string;
  readonly fix?: string;
}

/** The A and AAAA records the CA will find for the name. */
async function dnsStep(resolver: Resolver, wanted: string): Promise<Checked & { addresses: string[] }> {
  const { addresses, failures } = await resolveAll(resolver, wanted);
  // A lookup that failed (SERVFAIL, REFUSED, a server that does not answer) is no proof that the
  // records are missing: told as that failure, not as records to add to a zone that may be right.
  if (addresses.length === 0 && failures.length > 0)
    return {
      step: {
        step: 'dns',
        ok: false,
        summary: `${wanted} could not be resolved: ${failures.join(', ')}`,
        notes: [],
      },
      verdict: `the CA cannot resolve ${wanted} either if its DNS fails so (ACME error "dns")`,
      fix: `make ${wanted}'s DNS answer (its authoritative servers, its DNSSEC), or ask a server that can (--dns-server)`,
      addresses,
    };
  if (addresses.length === 0)
    return {
      step: { step: 'dns', ok: false, summary: `${wanted} has no A or AAAA record`, notes: [] },
      verdict: `the CA cannot resolve ${wanted} (ACME error "dns")`,
      fix: `add an A (and AAAA) record for ${wanted} pointing at this gateway's public address`,
      addresses,
    };
  return {
    step: { step: 'dns', ok: true, summary: `${wanted} → ${addresses.join(', ')}`, notes: [] },
    addresses,
  };
}

/** The CA's directory, read as the gateway reads it; and the CA's own identities, for CAA. */
async function caStep(
  acme: AcmeConfig,
  timeoutMs: number | undefined,
): Promise<Checked & { caaIdentities: readonly string[] }> {
  const directory = await acmeRequest('GET', acme.directory, {
    ca: acme.ca === undefined ? undefined : readFileSync(acme.ca, 'utf8'),
    timeoutMs: timeoutMs ?? 10_000,
  }).then(
    (answer) => ({ answer }),
    (err: Error) => ({ err }),
  );
  let caaIdentities: readonly string[] = [];
  if ('err' in directory || directory.answer.status !== 200) {
    const why = 'err' in directory ? directory.err.message : `status ${directory.answer.status}`;
    return {
      step: {
        step: 'ca',
        ok: false,
        summary: `the directory ${acme.directory} cannot be read: ${why}`,
        notes: [],
      },
      verdict: 'the gateway cannot reach its ACME server',
      fix: 'check acme.directory, the route from this host to the CA, and acme.ca for a private CA',
      caaIdentities,
    };
  }
  try {
    caaIdentities = JSON.parse(directory.answer.body.toString()).meta?.caaIdentities ?? [];
  } catch {
    caaIdentities = [];
  }
  return {
    step: { step: 'ca', ok: true, summary: `directory read from ${acme.directory}`, notes: [] },
    caaIdentities,
  };
}

/** The CAA records that govern the name, against the CA's identities. */
async function caaStep(
  resolver: Resolver,
  wanted: string,
  caaIdentities: readonly string[],
): Promise<Checked> {
  const caa = await caaOf(resolver, wanted.replace(/^\*\./, ''));
  if (caa === undefined)
    return { step: { step: 'caa', ok: true, summary: 'no CAA record: any CA may issue', notes: [] } };
  if ('failed' in caa)
    return {
      step: {
        step: 'caa',
        ok: false,
        summary: `the CAA records of ${caa.at} could not be read: ${caa.failed}`,
        notes: [],
      },
      verdict: `the CA refuses to issue for ${wanted} while its CAA records cannot be read (ACME error "caa")`,
      fix: `make ${caa.at}'s DNS answer CAA questions (a record, or an empty answer), or ask a server that can (--dns-server)`,
    };
  const issuers = caa.records
    .filter((r) => r.issue !== undefined)
    .map((r) => String(r.issue).split(';')[0].trim());
  const allowed = caaIdentities.length === 0 || issuers.some((issuer) => caaIdentities.includes(issuer));
  if (issuers.length > 0 && !allowed)
    return {
      step: {
        step: 'caa',
        ok: false,
        summary: `CAA of ${caa.at} allows ${issuers.join(', ')}; the CA is ${caaIdentities.join(', ')}`,
        notes: [],
      },
      verdict: `CAA records forbid the CA to issue for ${wanted} (ACME error "caa")`,
      fix: `add a CAA record "0 issue \\"${caaIdentities[0]}\\"" at ${caa.at}, or order from a CA it allows`,
    };
  return {
    step: {
      step: 'caa',
      ok: true,
      summary: `CAA of ${caa.at} allows ${issuers.join(', ') || 'any CA'}`,
      notes: [],
    },
  };
}

/**
 * Whether port 80 of each address the name resolves to reaches this gateway: proved with a
 * probe token put in the store for the gateway to answer, and taken away after.
 */
async function http01Step(
  store: AcmeStore,
  wanted: string,
  addresses: readonly string[],
  options: AcmeDiagnoseOptions,
): Promise<Checked> {
  const port = options.httpPort ?? 80;
  const token = `candor-diagnose-${randomBytes(12).toString('base64url')}`;
  const expected = `${token}.${randomBytes(12).toString('base64url')}`;
  store.open();
  store.setHttpChallenge(token, { name: wanted, keyAuthorization: expected });
  try {
    const failures: string[] = [];
    for (const address of addresses) {
      const got = await httpGet(
        address,
        port,
        wanted,
        `/.well-known/acme-challenge/${token}`,
        options.timeoutMs ?? 5_000,
      );
      if ('err' in got) failures.push(`${address}:${port}: ${got.err}`);
      else if (got.status !== 200 || got.body !== expected)
        failures.push(
          `${address}:${port} is answered by something else (${got.status}${got.server ? `, Server: ${got.server}` : ''})`,
        );
    }
    if (failures.length > 0)
      return {
        step: {
          step: 'http-01',
          ok: false,
          summary: `port ${port} does not reach this gateway`,
          notes: failures,
        },
        verdict: `the CA's HTTP-01 validation will not reach this gateway (ACME error "connection" or "unauthorized")`,
        fix: `let port ${port} of ${addresses.join(', ')} reach a plain listener of this gateway (a firewall, a load balancer, another server on port ${port}), or use tls-alpn-01 on port 443`,
      };
    return {
      step: {
        step: 'http-01',
        ok: true,
        summary: `port ${port} of ${addresses.join(', ')} reaches this gateway`,
        notes: [],
      },
    };
  } finally {
    store.setHttpChallenge(token, undefined);
  }
}

function lastOrder(
  store: AcmeStore,
  name: string,
): { step: AcmeStep; last?: { type: string; detail: string; at: string } } {
  let stored: { chain: string } | undefined;
  let last: { type: string; detail: string; at: string } | undefined;
  try {
    stored = store.certificate(name);
    last = store.lastError(name);
  } catch {
    // an unreadable store is told by the gateway itself
  }
  const notes = last === undefined ? [] : [`last failure ${last.at}: ${last.type}: ${last.detail}`];
  const summary =
    stored !== undefined
      ? 'a certificate is stored'
      : last === undefined
        ? 'nothing stored yet'
        : 'no certificate: the last order failed';
  return { step: { step: 'stored', ok: true, summary, notes }, last };
}

/**
 * The name's A and AAAA addresses, and each lookup that failed otherwise than by the record's
 * absence (`SERVFAIL (A)`): NODATA and NXDOMAIN are no records, every other code a failure.
 */
async function resolveAll(
  resolver: Resolver,
  name: string,
): Promise<{ addresses: string[]; failures: string[] }> {
  const failed: (string | undefined)[] = [];
  const lookup = (at: 0 | 1, query: Promise<string[]>) =>
    query.catch((err: NodeJS.ErrnoException) => {
      const code = String(err.code ?? err.message);
      if (code !== 'ENODATA' && code !== 'ENOTFOUND')
        failed[at] = `${code.replace(/^E/, '')} (${at === 0 ? 'A' : 'AAAA'})`;
      return [] as string[];
    });
  const [v4, v6] = await Promise.all([
    lookup(0, resolver.resolve4(name)),
    lookup(1, resolver.resolve6(name)),
  ]);
  return { addresses: [...v4, ...v6], failures: failed.filter((f) => f !== undefined) };
}

/** The CAA records that govern `name` (RFC 8659 §3): its own, else the closest parent's. */
async function caaOf(
  resolver: Resolver,
  name: string,
): Promise<{ at: string; records: { issue?: string }[] } | { at: string; failed: string } | undefined> {
  const labels = name.split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const at = labels.slice(i).join('.');
    // A lookup that failed otherwise than by the records' absence (SERVFAIL, a server that does
    // not answer) is no leave to issue: the CA refuses on it (Let's Encrypt: `SERVFAIL looking up
    // CAA`), so it is told, not taken for "no CAA record".
    let failed: string | undefined;
    const records = (await resolver.resolveCaa(at).catch((err: NodeJS.ErrnoException) => {
      const code = String(err.code ?? err.message);
      if (code !== 'ENODATA' && code !== 'ENOTFOUND') failed = code.replace(/^E/, '');
      return [];
    })) as { issue?: string }[];
    if (failed !== undefined) return { at, failed };
    if (records.length > 0) return { at, records };
  }
  return undefined;
}

function httpGet(
  address: string,
  port: number,
  host: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: string; server?: string } | { err: string }> {
  return new Promise((resolve) => {
    const request = http.get(
      { host: address, port, path, headers: { host }, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          if (body.length < 4096) body += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            server: String(res.headers.server ?? '') || undefined,
          }),
        );
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (err: NodeJS.ErrnoException) => resolve({ err: err.code ?? err.message }));
  });
}

/** The diagnosis for people, in the diagnose command's words: a ✓ or ✗ per check, then the verdict and the fix. */
export function acmeDiagnosisText(diagnosis: AcmeDiagnosis, color: boolean): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const lines = [`${paint('1', 'candor diagnose --acme')} ${diagnosis.name}`];
  for (const step of diagnosis.steps) {
    // What the CA, a DNS server or port 80 said (a problem's detail, a Server field) is theirs:
    // escaped, so the operator's terminal does not obey its control characters.
    lines.push(
      `  ${step.ok ? paint('32', '✓') : paint('31', '✗')} ${step.step.padEnd(9)}${printable(step.summary, true)}`,
    );
    for (const note of step.notes) lines.push(`${' '.repeat(13)}${paint('2', printable(note, true))}`);
  }
  lines.push(`${paint(`1;${diagnosis.ok ? '32' : '31'}`, 'verdict:')} ${printable(diagnosis.verdict, true)}`);
  lines.push(`${paint('1', 'fix:')} ${diagnosis.fix}`);
  return `${lines.join('\n')}\n`;
}
