/**
 * One `candor serve` for the client tests that go through a real gateway: a route per
 * scenario, each to its own upstream, and the gateway's access lines to count what reached it.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

export interface ClientGateway {
  readonly serve: ServeProcess;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Access lines logged so far for requests whose path starts with `prefix`. */
  requestsTo(prefix: string): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** `routes` maps a path prefix to an upstream block (its `targets:` and anything else, indented 4). */
export async function startClientGateway(routes: Record<string, string>): Promise<ClientGateway> {
  const dir = tempDir('candor-client-');
  const names = Object.keys(routes).map((prefix, i) => [prefix, `u${i}`] as const);
  const yaml = [
    'name: client-edge',
    'listen:',
    '  - address: 127.0.0.1:0',
    'routes:',
    ...names.map(([prefix, name]) => `  - match: { path: ${prefix} }\n    upstream: ${name}`),
    'upstreams:',
    ...names.map(([prefix, name]) => `  ${name}:\n${routes[prefix]}`),
    '',
  ].join('\n');
  const path = join(dir, 'candor.yaml');
  writeFileSync(path, yaml);
  const serve = await startServe(path, 1);
  return {
    serve,
    url: `http://127.0.0.1:${serve.port}`,
    requestsTo: (prefix) =>
      serve.lines.filter((line) => line.msg === 'request' && String(line.path).startsWith(prefix)),
    stop: async () => {
      await serve.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
