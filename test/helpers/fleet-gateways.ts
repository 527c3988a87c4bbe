import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { request } from './http-client.ts';
import { adminCall, type ServeProcess, startServe } from './serve-process.ts';
import { freePort } from './wait.ts';

const BIN = join(import.meta.dirname, '../../bin/candor.js');
export const FLEET_TOKEN = 'fleet-admin-token-abcdefghijkl';
export const FLEET_KEY = '/candor/config';

/** `candor ARGS` as an operator runs it: exit code and what it printed. */
export const candor = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr }),
    ),
  );

/** One gateway of a fleet: its bootstrap file, state folder, admin port, and the `candor serve` running it. */
export interface FleetGateway {
  readonly name: string;
  readonly bootstrap: string;
  readonly state: string;
  readonly adminPort: number;
  serve: ServeProcess | undefined;
}

/** Writes a bootstrap file for gateway `name` (its own listener on port 0, its admin API on a port of its own). */
export async function fleetBootstrap(
  dir: string,
  name: string,
  endpoints: readonly string[],
): Promise<FleetGateway> {
  const adminPort = await freePort();
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${FLEET_TOKEN}\n`, { mode: 0o600 });
  const state = join(dir, `state-${name}`);
  mkdirSync(state, { recursive: true });
  const bootstrap = join(dir, `${name}.yaml`);
  writeFileSync(
    bootstrap,
    `source:
  etcd:
    endpoints: [${endpoints.join(', ')}]
    key: ${FLEET_KEY}
state: ${state}
local:
  name: ${name}
  listen:
    - address: 127.0.0.1:0
  admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
`,
  );
  return { name, bootstrap, state, adminPort, serve: undefined };
}

/** Starts `candor serve --config BOOTSTRAP` (one worker) for the gateway. */
export async function serveGateway(gateway: FleetGateway): Promise<ServeProcess> {
  gateway.serve = await startServe(gateway.bootstrap, 1, { admin: true });
  return gateway.serve;
}

/**
 * GET /status's `config.etcd` of a gateway. A gateway just started says it once its primary
 * loaded the fleet's modules, after its first worker listens (primary.ts's followSource): asked
 * again for up to 5 s (a loaded machine's module loads), then the last answer is the error.
 */
export async function sourceOf(gateway: FleetGateway): Promise<Record<string, unknown>> {
  for (let tries = 0; ; tries++) {
    const { status, body, text } = await adminCall(gateway.adminPort, 'GET', '/status', {
      token: FLEET_TOKEN,
    });
    const etcd = (body.config as { etcd?: Record<string, unknown> } | undefined)?.etcd;
    if (etcd !== undefined) return etcd;
    if (tries >= 100)
      throw new Error(`${gateway.name}: GET /status ${status} has no config.etcd: ${text.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Origins that answer every request with their name: each one's URL by name, and the servers to close. */
export class NamedOrigins {
  readonly servers: http.Server[] = [];
  readonly url: Record<string, string> = {};

  async start(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const server = http.createServer((_req, res) => res.end(name));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      this.servers.push(server);
      this.url[name] = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    }
  }
}

/** The fleet's document the tests push: one route `all` to `url`. */
export const documentTo = (url: string) => `routes:
  - name: all
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
`;

/**
 * `candor config push` of documentTo(`url`) (written as `dir`/`name`.yaml) through `gateway`'s
 * bootstrap, by alice; asserted to succeed; the revision it was pushed as.
 */
export async function pushDocument(
  gateway: FleetGateway,
  dir: string,
  name: string,
  url: string,
): Promise<number> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, documentTo(url));
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap, '--author', 'alice']);
  assert.equal(pushed.code, 0, pushed.stderr);
  return Number(/revision (\d+)/.exec(pushed.stdout + pushed.stderr)?.[1]);
}

/** Waits (20 s at most) until `gateway` answers GET / with `body` (a NamedOrigins origin's name); the last answer asserted. */
export async function answersWith(gateway: FleetGateway, body: string): Promise<void> {
  let last = '';
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    last = await request(`http://127.0.0.1:${gateway.serve?.port}`, { path: '/' }).then(
      (answer) => answer.body.toString(),
      (err: Error) => err.message,
    );
    if (last === body) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(last, body, `${gateway.name} answers`);
}
