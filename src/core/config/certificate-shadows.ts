/**
 * A certificate of `listen[].tls.certificates` a name of which an earlier one in the list carries
 * too: the first listed that names a host serves it (server-tls.ts), so the later one is never
 * served for that name, and never at all when an earlier one takes each of its names. A renewed
 * certificate appended after the old one is the usual case: the old one goes on being served,
 * unsaid, until it expires. And a name of `listen[].tls.acme.names` a configured certificate
 * serves (by its name, or a wildcard one label up): the configured certificates come first
 * (server-tls.ts), so the one ordered for it is never served, an order and its renewals for nothing.
 */
import { readFileSync } from 'node:fs';
import { servedNames } from '../tls/certificate-names.ts';
import type { PathSegment } from './schema.ts';
import type { GatewayConfig } from './types.ts';

const RULE = 'the first listed that names a host serves it';

export function certificateShadowWarnings(
  config: GatewayConfig,
): { path: readonly PathSegment[]; message: string }[] {
  const warnings: { path: readonly PathSegment[]; message: string }[] = [];
  for (const [index, listener] of config.listen.entries()) {
    // Name (a wildcard as written, `*.example.com`) → the index of the first certificate carrying it.
    const servedBy = new Map<string, number>();
    for (const [n, { cert }] of (listener.tls?.certificates ?? []).entries()) {
      const names = namesIn(cert);
      const taken = names.filter((name) => servedBy.has(name));
      for (const name of names) if (!servedBy.has(name)) servedBy.set(name, n);
      if (taken.length === 0) continue;
      const earlier = [...new Set(taken.map((name) => `certificates[${servedBy.get(name)}]`))].join(', ');
      warnings.push({
        path: ['listen', index, 'tls', 'certificates', n, 'cert'],
        message:
          taken.length === names.length
            ? `never served: each name it carries (${names.join(', ')}) is served by a certificate listed before it, ${earlier} (${RULE}); remove it, or list it before that one`
            : `not served for ${taken.join(', ')}: ${earlier}, listed before it, serves ${taken.length === 1 ? 'that name' : 'those names'} (${RULE}); list this one before it to serve it there`,
      });
    }
    for (const [n, name] of (listener.tls?.acme?.names ?? []).entries()) {
      const by = servingCertificate(servedBy, name.toLowerCase());
      if (by === undefined) continue;
      warnings.push({
        path: ['listen', index, 'tls', 'acme', 'names', n],
        message: `the certificate ordered for ${name} would never be served: certificates[${by.index}] serves ${by.name === name.toLowerCase() ? 'that name' : `it (${by.name})`} (the configured certificates come before the ordered ones); remove it from acme.names, or that certificate from certificates`,
      });
    }
  }
  return warnings;
}

/** The configured certificate that serves `name` (as the listener looks it up: the name itself, then a wildcard one label up). */
function servingCertificate(
  servedBy: ReadonlyMap<string, number>,
  name: string,
): { index: number; name: string } | undefined {
  const exact = servedBy.get(name);
  if (exact !== undefined) return { index: exact, name };
  // A wildcard's own name (`*.example.com`) was looked up whole above; a host one label under one is served by it.
  if (name.startsWith('*.')) return undefined;
  const dot = name.indexOf('.');
  if (dot === -1) return undefined;
  const wildcard = `*${name.slice(dot)}`;
  const index = servedBy.get(wildcard);
  return index === undefined ? undefined : { index, name: wildcard };
}

/** The certificate's names, none when its file cannot be read (the loader's own check says so). */
function namesIn(file: string): string[] {
  try {
    return [...new Set(servedNames(readFileSync(file)))];
  } catch {
    return [];
  }
}
