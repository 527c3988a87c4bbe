/**
 * What DNS-01 needs of the rest of the config: a wildcard name is proven only by DNS-01, so it
 * needs `acme.dns01` and a `challenges` list that has `dns-01`; `dns-01` needs `acme.dns01`; a
 * name proven in the zone's DNS is in the zone; the TSIG key's secret is there (`serve`,
 * `check`; not `check --without-secrets`) and is base64.
 */

import { DEFAULTS } from './defaults.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';
import { type SecretPresence, secretAbsent } from './secrets.ts';

export function checkDns01(
  document: unknown,
  env: NodeJS.ProcessEnv,
  report: Report,
  secrets: SecretPresence,
): void {
  if (!isMapping(document)) return;
  const acme = mappingAt(document, 'acme');
  const dns01 = mappingAt(acme, 'dns01');
  const written = Array.isArray(acme?.challenges) ? (acme.challenges as unknown[]) : undefined;
  const challenges: readonly unknown[] =
    written ?? (dns01 === undefined ? DEFAULTS.acme.challenges : DEFAULTS.acme.dns01Challenges);
  if (dns01 === undefined && written?.includes('dns-01'))
    report(
      ['acme', 'challenges', written.indexOf('dns-01')],
      'dns-01 is answered by a dynamic update of the zone: add acme.dns01 (server, zone, tsig)',
    );
  const zone = stringAt(dns01, 'zone')?.toLowerCase().replace(/\.$/, '');
  const onlyDns = challenges.every((challenge) => challenge === 'dns-01');
  for (const [index, listener] of itemsOf(document.listen)) {
    const names = mappingAt(mappingAt(listener, 'tls'), 'acme')?.names;
    if (!Array.isArray(names)) continue;
    for (const [n, name] of names.entries()) {
      if (typeof name !== 'string') continue;
      const at = ['listen', index, 'tls', 'acme', 'names', n];
      const wildcard = name.startsWith('*.');
      if (wildcard && dns01 === undefined)
        report(at, `${name}: a wildcard is proven only by DNS-01: add acme.dns01 (server, zone, tsig)`);
      else if (wildcard && !challenges.includes('dns-01'))
        report(
          at,
          `${name}: a wildcard is proven only by DNS-01, which acme.challenges leaves out: add dns-01`,
        );
      else if ((wildcard || onlyDns) && zone !== undefined && !inZone(name, zone))
        report(at, `${name} is not in acme.dns01.zone ${zone}: its DNS-01 record could not be written there`);
    }
  }
  const variable = stringAt(mappingAt(dns01, 'tsig'), 'secret_env');
  if (variable === undefined) return;
  const source = { env: variable };
  if (secrets === 'may-be-absent' && secretAbsent(source, env)) return;
  const field = ['acme', 'dns01', 'tsig', 'secret_env'];
  const value = (env[variable] ?? '').trim();
  if (value === '') report(field, `the variable ${variable} is not set: it holds the TSIG key's secret`);
  else if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || Buffer.from(value, 'base64').length < 16)
    report(
      field,
      `the variable ${variable} is not a base64 secret of at least 16 bytes (as keymgr -t or tsig-keygen write it)`,
    );
}

/** Whether `name` (a wildcard's apex counting) is `zone` or under it. */
function inZone(name: string, zone: string): boolean {
  const bare = name.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '');
  return bare === zone || bare.endsWith(`.${zone}`);
}
