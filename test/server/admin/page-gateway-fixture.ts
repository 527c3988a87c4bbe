import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/temp-dir.ts';

/** The admin token of the status page's tests on one small gateway. */
export const TOKEN = 'status-page-incidents-token-0123456789';

/** A folder with the token file and a config proxying `/` to `target`, the admin API on `adminPort`. */
export function gatewayDir(adminPort: number, target: string) {
  const dir = tempDir('candor-page-incidents-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  const text = (upstream: string) => `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - { name: app, match: { path: / }, upstream: ${upstream} }
upstreams:
  app: { targets: [{ url: ${target} }] }
`;
  writeFileSync(path, text('app'));
  return { dir, path, text };
}
