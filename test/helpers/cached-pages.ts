/**
 * The gateway with one cached route, `pages` (path `/pages`) to the upstream `app`: its YAML, for
 * an in-process gateway (test-gateway.ts), and a real `candor serve --workers N` on it (the
 * cluster's shared store). Light: it imports no gateway module, as a test of a child process needs none.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ServeProcess, startServe } from './serve-process.ts';
import { tempDir } from './temp-dir.ts';

/**
 * The YAML for the route `pages` to one upstream at `url` with a response `cache` (`{}`: its
 * defaults); the gateway's `name` (edge-1), and more of the upstream's fields (`upstream`, indented).
 */
export function cachedPages(url: string, cache = '{}', name = 'edge-1', upstream = ''): string {
  return `name: ${name}
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: ${cache}
upstreams:
  app:
    targets:
      - url: ${url}
${upstream}`;
}

/** `candor serve --workers N` (2) on cachedPages, listening on a free loopback port. */
export function serveCachedPages(
  url: string,
  options: { cache?: string; name?: string; upstream?: string; workers?: number } = {},
): Promise<ServeProcess> {
  const path = join(tempDir('candor-cached-pages-'), 'candor.yaml');
  const pages = cachedPages(url, options.cache, options.name, options.upstream);
  writeFileSync(path, `listen:\n  - address: 127.0.0.1:0\n${pages}`);
  return startServe(path, options.workers ?? 2);
}

/** Every file of the route's folder under a `cache.dir` (temporary ones too); none when the folder is not there. */
export function namesIn(dir: string): string[] {
  try {
    return readdirSync(join(dir, 'pages'));
  } catch {
    return [];
  }
}

/** The route's stored answers in a `cache.dir` (each file named by its hash alone). */
export const storedIn = (dir: string): string[] => namesIn(dir).filter((name) => /^[0-9a-f]{64}$/.test(name));
