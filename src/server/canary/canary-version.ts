import { createHash } from 'node:crypto';
import type { CanaryConfig, UpstreamConfig } from '../../core/config/types.ts';

/**
 * Which canary a route runs: its settings and where its upstream's version runs (the targets
 * as written, or the DNS name they are found by), hashed. A reload that changes either begins
 * the canary anew (a promoted canary whose upstream is given new targets is a new version, to
 * be judged from the first step, not one already promoted); the fleet's state carries it, so a
 * gateway joins only a canary of the same version.
 */
export function canaryVersion(canary: CanaryConfig, upstream: UpstreamConfig | undefined): string {
  // With discovery the targets are the DNS answers', filled in as they come: its name stands for them.
  const where =
    upstream?.discovery !== undefined
      ? { discovery: upstream.discovery }
      : { targets: upstream?.targets.map((t) => [t.url, t.weight]) ?? [] };
  return createHash('sha256')
    .update(JSON.stringify([canary, where]))
    .digest('hex')
    .slice(0, 16);
}
