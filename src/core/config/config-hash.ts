import type { GatewayConfig } from './types.ts';

/** Each frozen config's hash, worked out once: a frozen config cannot change under its hash. */
const hashes = new WeakMap<GatewayConfig, string>();

/**
 * The running config's identity, shown by the admin API and carried by every worker's status:
 * a hash of the validated config (not the file's bytes), so a reload that only edits comments
 * keeps it, and two workers on the same snapshot report the same value.
 */
export function configHash(config: GatewayConfig): string {
  let hash = hashes.get(config);
  if (hash === undefined) {
    // node:crypto (some twenty modules, 2 MiB of a process) comes with the first hash worked
    // out here, not at import: the cluster primary never works one out, it is given each
    // config's hash by the process that read it (load-isolated.ts, `knownHash`).
    const { createHash } = process.getBuiltinModule('node:crypto');
    hash = `sha256:${createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16)}`;
    if (Object.isFrozen(config)) hashes.set(config, hash);
  }
  return hash;
}

/**
 * The hash of a frozen `config`, worked out by configHash in the process that read it and sent
 * it over (structured clone keeps every value and its order, so the copy's hash is the same).
 */
export function knownHash(config: GatewayConfig, hash: string): void {
  if (Object.isFrozen(config)) hashes.set(config, hash);
}
