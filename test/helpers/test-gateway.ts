import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/core/config/load.ts';
import { createLoggerOn } from '../../src/observe/log/logger.ts';
import { type Gateway, type GatewayOptions, startGateway } from '../../src/server/gateway/gateway.ts';
import type { TargetPool } from '../../src/upstream/connections/target-pool.ts';
import { tempDir } from './temp-dir.ts';

export { cachedPages } from './cached-pages.ts';

/**
 * A gateway keeps its canaries' verdicts in its state folder (state_dir, by default under
 * XDG_STATE_HOME): never the user's for a test, and one of its own for each gateway a test
 * starts, or two gateways of one test file would be one gateway restarted. A config a test
 * parses itself (a reload) lands in this process's own folder.
 */
const processStateHome = tempDir('candor-state-');
process.env.XDG_STATE_HOME ??= processStateHome;

/** `parse` with XDG_STATE_HOME a fresh folder (returned, for the gateway's close to remove). */
export function withOwnStateHome<T>(parse: () => T): { parsed: T; stateHome: string } {
  const before = process.env.XDG_STATE_HOME;
  const stateHome = tempDir('candor-state-');
  process.env.XDG_STATE_HOME = stateHome;
  try {
    return { parsed: parse(), stateHome };
  } finally {
    if (before === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = before;
  }
}

/** One parsed access-log line. */
export type LogLine = Record<string, unknown> & { msg: string; level: string };

export interface TestGateway {
  readonly gateway: Gateway;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Every line logged so far, parsed. */
  readonly logs: LogLine[];
  /**
   * The access-log line of the request with this id (waits for it: the line is written when the
   * response closes): its own id, or the X-Request-Id the test sent as the client (not adopted
   * from an untrusted client: logged as client_req_id).
   */
  logFor(requestId: string): Promise<LogLine>;
  /** Waits for the nth access-log line (1-based). */
  accessLine(n?: number): Promise<LogLine>;
  close(): Promise<void>;
}

/**
 * Starts a real gateway in this process on 127.0.0.1:0 from YAML text (without `listen`),
 * capturing its log lines in memory. `listener` adds fields to the listener ("max_connections: 2").
 */
export async function startTestGateway(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  listener = '',
  options: Omit<GatewayOptions, 'logger'> = {},
): Promise<TestGateway> {
  const text = `listen:\n  - address: 127.0.0.1:0\n${listener ? `    ${listener}\n` : ''}${yaml}`;
  return startGatewayFromText(text, env, options);
}

/** startTestGateway on a whole config, its listeners included (the first one's port is `port`). */
export async function startGatewayFromText(
  text: string,
  env: NodeJS.ProcessEnv = {},
  options: Omit<GatewayOptions, 'logger'> = {},
): Promise<TestGateway> {
  const { parsed: config, stateHome } = withOwnStateHome(() => parseConfig(text, '<test>', env));
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      for (const waiter of waiters) waiter();
      callback();
    },
  });
  const logger = createLoggerOn(sink, 'info', config.name);
  const gateway = await startGateway(config, { ...options, logger });
  const port = gateway.listeners[0].port();
  const waitFor = (find: () => LogLine | undefined, what: string): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no log line for ${what} after 5 s; lines: ${JSON.stringify(logs)}`));
      }, 5000);
      waiters.add(check);
      check();
    });
  return {
    gateway,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    logFor: (id) =>
      waitFor(
        () => logs.find((l) => l.msg === 'request' && (l.req_id === id || l.client_req_id === id)),
        `request ${id}`,
      ),
    accessLine: (n = 1) => waitFor(() => logs.filter((l) => l.msg === 'request')[n - 1], `access line #${n}`),
    close: async () => {
      await gateway.close();
      rmSync(stateHome, { recursive: true, force: true });
    },
  };
}

/** The YAML for one route `/` (or `path`) to one upstream with the given target URL and options. */
export function singleUpstream(
  url: string,
  options: { upstream?: string; route?: string; extra?: string } = {},
): string {
  return `name: edge-1
routes:
  - match: { path: ${options.route ?? '/'} }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
${options.upstream ?? ''}
${options.extra ?? ''}
`;
}

/** The pool of the only target of `upstream` (`app` unless told) in the gateway's runtime. */
export function poolOf(gw: TestGateway, upstream = 'app'): TargetPool {
  const found = gw.gateway.runtime().upstreams.get(upstream);
  if (found === undefined) throw new Error(`no upstream ${upstream}`);
  return found.targets[0].pool;
}

/** The TCP connections the gateway's first listener holds now (HTTP/2 ones included). */
export function listenerConnections(gw: TestGateway): Promise<number> {
  const server = gw.gateway.listeners[0].server;
  return new Promise<number>((resolve, reject) =>
    server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );
}
