import CachePolicy from 'http-cache-semantics';

/**
 * Cache-Control directive names are case-insensitive (RFC 9111 §5.2), and http-cache-semantics
 * reads them as they are written: an upstream's `Private, max-age=60` or `No-Store, max-age=60`
 * was kept and given to every client, and a client's `No-Cache` got the stored answer.
 */

/** The policy with its answer's and its request's directives named in lowercase (the first of two spellings counts). */
export function caseless(policy: CachePolicy): CachePolicy {
  const stored = policy.toObject();
  const named = (cc: Record<string, string>) => Object.keys(cc).every((k) => k === k.toLowerCase());
  if (named(stored.rescc) && named(stored.reqcc)) return policy;
  return CachePolicy.fromObject({ ...stored, rescc: lowered(stored.rescc), reqcc: lowered(stored.reqcc) });
}

function lowered(cc: Record<string, string>): Record<string, string> {
  // No prototype: a directive named `__proto__` is a directive, not the object's prototype.
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(cc)) {
    const lower = name.toLowerCase();
    if (!Object.hasOwn(out, lower)) out[lower] = value;
  }
  return out;
}

/** A request's Cache-Control with its directive names in lowercase (their arguments as they are). */
export function lowerDirectiveNames(value: string): string {
  return value.replace(/(^|,)([^=,]*)/g, (_all, comma: string, name: string) => comma + name.toLowerCase());
}
