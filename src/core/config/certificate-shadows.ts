/**
 * A certificate of `listen[].tls.certificates` a name of which an earlier one in the list carries
 * too: the first listed that names a host serves it (server-tls.ts), so the later one is never
 * served for that name, and never at all when an earlier one takes each of its names. A renewed
 * certificate appended after the old one is the usual case: the old one goes on being served,
 * unsaid, until it expires.
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
  }
  return warnings;
}

/** The certificate's names, none when its file cannot be read (the loader's own check says so). */
function namesIn(file: string): string[] {
  try {
    return [...new Set(servedNames(readFileSync(file)))];
  } catch {
    return [];
  }
}
