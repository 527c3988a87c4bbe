/**
 * Automatic HTTPS's settings in runtime units: `acme`, with DNS-01's `dns01` when it is set
 * (normalize.ts holds the rest of the config).
 */

import { resolve } from 'node:path';
import { accepted, present } from './accepted.ts';
import { parseListenAddress } from './addresses.ts';
import { DEFAULTS } from './defaults.ts';
import type { RawConfig } from './schema.ts';
import type { AcmeConfig, Dns01Config } from './types.ts';
import { parseDuration } from './units.ts';

type RawAcme = NonNullable<RawConfig['acme']>;

export function toAcme(raw: RawAcme, baseDir: string): AcmeConfig {
  return {
    directory: raw.directory ?? DEFAULTS.acme.directory,
    ...(raw.email === undefined ? {} : { email: raw.email }),
    ...(raw.ca === undefined ? {} : { ca: resolve(baseDir, raw.ca) }),
    challenges: [
      ...(raw.challenges ??
        (raw.dns01 === undefined ? DEFAULTS.acme.challenges : DEFAULTS.acme.dns01Challenges)),
    ],
    ...(raw.renew_before === undefined ? {} : { renewBefore: present(parseDuration(raw.renew_before)) }),
    storage: resolve(baseDir, raw.storage ?? DEFAULTS.acme.storage()),
    ...(raw.dns01 === undefined ? {} : { dns01: toDns01(raw.dns01) }),
  };
}

function toDns01(raw: NonNullable<RawAcme['dns01']>): Dns01Config {
  return {
    server: { address: raw.server, ...accepted(parseListenAddress(raw.server)) },
    zone: raw.zone.toLowerCase().replace(/\.$/, ''),
    tsig: {
      name: raw.tsig.name,
      algorithm: raw.tsig.algorithm ?? DEFAULTS.acme.dns01.tsigAlgorithm,
      secretEnv: raw.tsig.secret_env,
    },
    ...(raw.nameservers === undefined
      ? {}
      : { nameservers: raw.nameservers.map((address) => accepted(parseListenAddress(address))) }),
    propagationTimeout:
      raw.propagation_timeout === undefined
        ? DEFAULTS.acme.dns01.propagationTimeout
        : present(parseDuration(raw.propagation_timeout)),
  };
}
