/**
 * What the deploy timeline's tests share (issue 36): a directory holding the admin token, and one
 * config (an admin listener, a route `app` to one target, and the route `extra` that a reload adds).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/temp-dir.ts';

export interface TimelineDir {
  dir: string;
  tokenFile: string;
  /** Where the config is written: `candor serve` reads it, a reload reads it again. */
  configPath: string;
}

/** A fresh directory with `token` in an owner-only token file, as the admin listener requires. */
export function timelineDir(prefix: string, token: string): TimelineDir {
  const dir = tempDir(prefix);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return { dir, tokenFile, configPath: join(dir, 'candor.yaml') };
}

export interface TimelineConfig {
  name: string;
  adminPort: number;
  tokenFile: string;
  target: string;
  /** The reloaded version: a second route `extra` to the same upstream. */
  extra: boolean;
  /** Lines of the upstream `app` below its targets (health check, retries), indented by four. */
  upstreamLines?: string[];
}

/** The config text both versions of the timeline's gateway run. */
export function timelineConfig(c: TimelineConfig): string {
  const extra = c.extra ? '  - name: extra\n    match: { path: /extra }\n    upstream: app\n' : '';
  const tail = (c.upstreamLines ?? []).map((line) => `    ${line}\n`).join('');
  return `name: ${c.name}
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${c.adminPort}", token_file: ${c.tokenFile} }
routes:
  - name: app
    match: { path: /app }
    upstream: app
${extra}upstreams:
  app:
    targets:
      - url: ${c.target}
${tail}`;
}
