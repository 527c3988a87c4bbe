import { createHash } from 'node:crypto';
import type { GatewayConfig } from './types.ts';

/**
 * The running config's identity, shown by the admin API and carried by every worker's status:
 * a hash of the validated config (not the file's bytes), so a reload that only edits comments
 * keeps it, and two workers on the same snapshot report the same value.
 */
export function configHash(config: GatewayConfig): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16)}`;
}
