import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CanaryOrigin, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

export const TOKEN = 'canary-test-token-abcdefghijkl';

/** A real `candor serve` with one canary route `api` (baseline `stable`, canary `next`) and the admin API. */
export interface CanaryGateway {
  readonly serve: ServeProcess;
  readonly base: string;
  readonly stable: CanaryOrigin;
  readonly next: CanaryOrigin;
  call(method: string, path: string, body?: unknown): ReturnType<typeof adminCall>;
  /** The config file (a test may rewrite it and reload). */
  readonly path: string;
  /** The primary's log lines with this msg (and route api). */
  linesOf(msg: string): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** `canary` is the YAML flow mapping's inside, e.g. "steps: [10, 30], step_interval: 1s". */
export async function startCanaryGateway(canary: string, workers = 1, extra = ''): Promise<CanaryGateway> {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  const dir = tempDir('candor-canary-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: canary-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
${canaryRoutes(canary, stable.url, next.url)}${extra}`,
  );
  const serve = await startServe(path, workers, { admin: true });
  return {
    serve,
    base: `http://127.0.0.1:${serve.port}`,
    path,
    stable,
    next,
    call: (method, p, body) => adminCall(adminPort, method, p, { token: TOKEN, body }),
    linesOf: (msg) => serve.lines.filter((l) => l.msg === msg && l.route === 'api'),
    async stop() {
      await serve.stop();
      await stable.close();
      await next.close();
    },
  };
}

/**
 * The canary's route and its two upstreams, as YAML from `routes:` on: route `api` to baseline
 * `stable`, canary `next` (`canary` is the flow mapping's inside), `next` never retried so a
 * reset reaches the client and the test counts what users saw.
 */
export function canaryRoutes(canary: string, stableUrl: string, nextUrl: string): string {
  return `routes:
  - name: api
    match: { path: / }
    upstream: stable
    canary: { upstream: next, ${canary} }
upstreams:
  stable:
    targets:
      - url: ${stableUrl}
  next:
    targets:
      - url: ${nextUrl}
    retries: { attempts: 1 }    # a reset reaches the client: the test counts what users saw
`;
}
