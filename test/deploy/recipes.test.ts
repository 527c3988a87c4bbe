/**
 * The deploy recipes (deploy/: the shipped config, a Dockerfile, a systemd unit, Kubernetes
 * manifests) name ports, paths, signals and timeouts that the gateway decides. Neither Docker,
 * systemd nor a cluster runs here, so each file is parsed and every value it names is compared
 * with what the gateway uses: the shipped config as the project's loader reads it, the signal
 * table of src/server/gateway/signals.ts, the SIGHUP handler of src/server/cli/primary.ts, the probe paths of
 * src/server/gateway/probes.ts. A recipe that drifts from the gateway fails here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join, posix } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ConfigError } from '../../src/core/config/config-error.ts';
import { DEFAULTS } from '../../src/core/config/defaults.ts';
import { loadConfigFile, parseConfig } from '../../src/core/config/load.ts';
import { createLoggerOn } from '../../src/observe/log/logger.ts';
import { EXIT } from '../../src/server/cluster/exit-codes.ts';
import { startGateway } from '../../src/server/gateway/gateway.ts';
import { probeAt } from '../../src/server/gateway/probes.ts';
import { SIGNAL_ACTIONS } from '../../src/server/gateway/signals.ts';
import { freePort } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
const CONFIG_FILE = join(DEPLOY, 'candor.yaml');
const CONFIG_TEXT = readFileSync(CONFIG_FILE, 'utf8');
/** What the recipes must provide: the admin token (any value of the allowed shape). */
const ENV = { CANDOR_ADMIN_TOKEN: 'recipes-test-token-0123456789' };
const config = await loadConfigFile(CONFIG_FILE, ENV);
const admin = config.admin;
assert.ok(admin, 'deploy/candor.yaml configures the admin API');
assert.ok('env' in admin.token, 'the admin token comes from the environment');
const TOKEN_ENV = admin.token.env;
assert.equal(config.listen.length, 1, 'one main listener');
const LISTEN = config.listen[0];

// ---------------------------------------------------------------------------------------------
// Parsers: just enough of each format for what the recipes use.

/** A unit file: each section's `Key=value` lines, repeated keys kept in order. */
function parseUnit(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `unit line outside a section or without "=": ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** Every value of a key in one section of a unit. */
function unitValues(unit: Map<string, [string, string][]>, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** The single value of a key; fails when it is missing or repeated. */
function unitValue(unit: Map<string, [string, string][]>, section: string, key: string): string {
  const values = unitValues(unit, section, key);
  assert.equal(values.length, 1, `[${section}] ${key}= is set once, found ${values.length}`);
  return values[0];
}

/** systemd's time span: "45s", "1min 30s", "45" (seconds), "500ms"; in milliseconds. */
function systemdSpan(value: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const part of value.trim().split(/\s+/)) {
    const match = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(part);
    assert.ok(match, `a systemd time span: ${value}`);
    const unit = match[2] === '' ? 's' : match[2];
    assert.ok(unit in units, `a known time unit in ${value}`);
    total += Number(match[1]) * units[unit];
  }
  return total;
}

interface Instruction {
  /** Upper-cased: FROM, RUN, COPY… */
  readonly name: string;
  readonly args: string;
  /** The stage it belongs to: 0 for the first FROM. */
  readonly stage: number;
}

/** A Dockerfile's instructions, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole === '') continue;
    const match = /^([A-Za-z]+)\s+(.*)$/.exec(whole);
    assert.ok(match, `a Dockerfile instruction: ${whole}`);
    const name = match[1].toUpperCase();
    if (name === 'FROM') stage++;
    instructions.push({ name, args: match[2].replace(/\s+/g, ' ').trim(), stage });
  }
  return instructions;
}

/** An instruction's exec form (`["a", "b"]`), parsed as the JSON array it is. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((item) => typeof item === 'string'), `exec form: ${args}`);
  return parsed;
}

/** `--flag VALUE` in an argument list. */
function option(argv: readonly string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at === -1 ? undefined : argv[at + 1];
}

/** Runs a command to its end (killed after 30 s so that a hang fails the test instead of stalling it). */
function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, timeout: 30_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment a child gets: this one without the variables the recipes set. */
function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!(TOKEN_ENV in extra)) delete env[TOKEN_ENV];
  delete env.UPSTREAM_URL;
  return env;
}

/**
 * The signals the primary reloads on: `process.on('SIG…', handler)` in src/server/cli/primary.ts where
 * the handler calls the cluster's reload. (SIGHUP is not in SIGNAL_ACTIONS: workers ignore it.)
 */
function reloadSignals(): string[] {
  // The primary's signal handling lives beside it (primary-events.ts).
  const source = ['primary.ts', 'primary-events.ts']
    .map((file) => readFileSync(join(ROOT, 'src/server/cli', file), 'utf8'))
    .join('\n');
  const handlers = [...source.matchAll(/const (\w+) = \(\) => void control\.reload\(/g)].map((m) => m[1]);
  assert.ok(handlers.length > 0, 'src/server/cli/primary.ts has a signal handler that reloads');
  return [...source.matchAll(/process\.on\('(SIG[A-Z0-9]+)', (\w+)\)/g)]
    .filter((m) => handlers.includes(m[2]))
    .map((m) => m[1]);
}

/** What SIGNAL_ACTIONS makes of a signal name, with or without its SIG prefix. */
function actionOf(signal: string): string | undefined {
  const name = signal.startsWith('SIG') ? signal : `SIG${signal}`;
  return (SIGNAL_ACTIONS as Record<string, string>)[name];
}

// ---------------------------------------------------------------------------------------------
// deploy/candor.yaml

test('deploy/candor.yaml: the loader accepts it with the admin token set, and refuses it without', async () => {
  assert.equal(LISTEN.address, '0.0.0.0:8080', 'listens on every interface, port 8080');
  assert.equal(admin.address, '127.0.0.1:9901', 'the admin API on loopback');
  assert.equal(admin.probesPath, '/_candor');
  assert.equal(config.log.destination, 'stdout', 'logs to stdout: the journal, docker logs, kubectl logs');
  assert.ok(config.drain.delay > 0, 'a drain delay for load balancers to notice not-ready');
  assert.ok(config.drain.delay < config.drain.timeout);
  // ${UPSTREAM_URL:-…}: the default, and the variable when a recipe sets it.
  assert.equal(config.upstreams.app.targets[0].url, 'http://127.0.0.1:3000');
  const moved = await loadConfigFile(CONFIG_FILE, { ...ENV, UPSTREAM_URL: 'http://app.internal:3000' });
  assert.equal(moved.upstreams.app.targets[0].url, 'http://app.internal:3000');
  // Every recipe must provide the token: without it the gateway does not start.
  await assert.rejects(loadConfigFile(CONFIG_FILE, {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ['admin.token_env'],
    );
    return true;
  });
});

test('candor check deploy/candor.yaml, through bin/candor.js: ok with the token, exit 78 without', async () => {
  const bin = join(ROOT, 'bin/candor.js');
  const ok = await run(process.execPath, [bin, 'check', 'deploy/candor.yaml'], childEnv(ENV));
  assert.equal(ok.code, EXIT.ok, ok.stderr);
  assert.equal(
    ok.stdout,
    'deploy/candor.yaml: ok (gateway "candor", 1 listener(s), 1 route(s), 1 upstream(s))\n',
  );
  const refused = await run(process.execPath, [bin, 'check', 'deploy/candor.yaml'], childEnv({}));
  assert.equal(refused.code, EXIT.config);
  assert.match(
    refused.stderr,
    new RegExp(`admin\\.token_env: the environment variable ${TOKEN_ENV} is not set`),
  );
});

// ---------------------------------------------------------------------------------------------
// deploy/candor.service

const unit = parseUnit(readFileSync(join(DEPLOY, 'candor.service'), 'utf8'));

test('candor.service runs candor serve on the config under its ConfigurationDirectory', () => {
  const start = unitValue(unit, 'Service', 'ExecStart').split(' ');
  assert.equal(posix.basename(start[0]), 'candor');
  assert.ok(posix.isAbsolute(start[0]), 'ExecStart names the command by its absolute path');
  assert.equal(start[1], 'serve');
  const path = option(start, '--config');
  assert.ok(path, 'ExecStart passes --config');
  assert.equal(
    posix.dirname(path),
    `/etc/${unitValue(unit, 'Service', 'ConfigurationDirectory')}`,
    'the config is in the directory the unit declares (and ProtectSystem=strict leaves readable)',
  );
  assert.equal(posix.basename(path), 'candor.yaml', 'the file the recipes ship');
  // The reload checks that same file before signalling.
  const checks = unitValues(unit, 'Service', 'ExecReload').filter((line) => / check /.test(line));
  assert.deepEqual(checks, [`${start[0]} check ${path}`]);
});

test('candor.service: systemctl reload sends the signal the primary reloads on, after the check', () => {
  const reloads = unitValues(unit, 'Service', 'ExecReload');
  const kill = reloads.findIndex((line) => line.startsWith('/bin/kill '));
  assert.ok(kill >= 0, 'an ExecReload sends a signal');
  const match = /^\/bin\/kill -(?:s )?(?:SIG)?([A-Z0-9]+) \$MAINPID$/.exec(reloads[kill]);
  assert.ok(match, `ExecReload sends a signal to the main process (the primary): ${reloads[kill]}`);
  assert.ok(
    reloadSignals().includes(`SIG${match[1]}`),
    `SIG${match[1]} is a signal src/server/cli/primary.ts reloads on (${reloadSignals()})`,
  );
  assert.ok(
    reloads.findIndex((line) => / check /.test(line)) < kill,
    'the file is checked before the signal',
  );
});

test('candor.service stops with the drain signal, to the primary alone, and waits longer than drain.timeout', () => {
  const signal = unitValue(unit, 'Service', 'KillSignal');
  assert.equal(actionOf(signal), 'drain', `${signal} drains the gateway (src/server/gateway/signals.ts)`);
  // The primary relays the drain to its workers; SIGKILL at the timeout still reaches all.
  assert.equal(unitValue(unit, 'Service', 'KillMode'), 'mixed');
  const stop = systemdSpan(unitValue(unit, 'Service', 'TimeoutStopSec'));
  assert.ok(
    stop > config.drain.timeout,
    `TimeoutStopSec (${stop} ms) > drain.timeout (${config.drain.timeout} ms)`,
  );
  assert.equal(unitValue(unit, 'Service', 'Restart'), 'on-failure');
  const noRestart = unitValue(unit, 'Service', 'RestartPreventExitStatus').split(/\s+/).map(Number);
  assert.ok(noRestart.includes(EXIT.config), 'an invalid config is not restarted in a loop');
  assert.ok(!noRestart.includes(EXIT.ok), 'a clean stop is not a failure anyway');
});

test('candor.service gets the admin token from its EnvironmentFile, and is hardened without breaking Node', () => {
  const file = unitValue(unit, 'Service', 'EnvironmentFile').replace(/^-/, '');
  const text = readFileSync(join(DEPLOY, 'candor.service'), 'utf8');
  // The install steps in the unit's header write the token variable into that file.
  assert.match(
    text,
    new RegExp(`${TOKEN_ENV}=.*\\| sudo tee ${file.replace(/[./]/g, '\\$&')}`),
    `the unit's install steps put ${TOKEN_ENV} in ${file}`,
  );
  assert.equal(unitValue(unit, 'Service', 'NoNewPrivileges'), 'yes');
  assert.equal(unitValue(unit, 'Service', 'ProtectSystem'), 'strict');
  // V8's JIT writes executable memory: with this Node aborts at start.
  assert.deepEqual(unitValues(unit, 'Service', 'MemoryDenyWriteExecute'), []);
  assert.deepEqual(unitValues(unit, 'Service', 'User'), [], 'no fixed user: DynamicUser');
  assert.equal(unitValue(unit, 'Service', 'DynamicUser'), 'yes');
  // Under ProtectSystem=strict a log file can only be written under LogsDirectory.
  const destination = config.log.destination;
  if (destination !== 'stdout' && destination !== 'stderr')
    assert.ok(destination.startsWith(`/var/log/${unitValue(unit, 'Service', 'LogsDirectory')}/`));
  const families = unitValue(unit, 'Service', 'RestrictAddressFamilies').split(/\s+/);
  for (const family of ['AF_INET', 'AF_INET6', 'AF_UNIX'])
    assert.ok(families.includes(family), `${family}: listeners, upstreams, worker IPC`);
});

test("docs/operations.md names every place candor.service's ProtectSystem=strict leaves the gateway writable", () => {
  const docs = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const paragraph = docs.slice(
    docs.indexOf('**The systemd unit**'),
    docs.indexOf('**The Kubernetes manifests**'),
  );
  const writable = /`ProtectSystem=strict` \(writable only: ([^)]*)\)/.exec(paragraph)?.[1];
  assert.ok(writable, 'the docs say what ProtectSystem=strict leaves writable');
  // Each *Directory= the unit asks systemd for is one of those places (the config one is read-only).
  const places: Record<string, string> = {
    CacheDirectory: 'cache',
    StateDirectory: `/var/lib/${unitValue(unit, 'Service', 'StateDirectory')}/`,
    LogsDirectory: `/var/log/${unitValue(unit, 'Service', 'LogsDirectory')}/`,
  };
  for (const [key, named] of Object.entries(places)) {
    unitValue(unit, 'Service', key);
    assert.ok(writable.includes(named), `${key}= (${named}) is among the docs' writable places: ${writable}`);
  }
});

test("candor.service lets the gateway list this machine's addresses (AF_NETLINK), as its code does", () => {
  // os.networkInterfaces() is getifaddrs(3), which asks the kernel over a netlink socket: a unit
  // that refuses AF_NETLINK makes it throw (uv_interface_addresses, error 97). The gateway calls
  // it for a wildcard metrics or admin listener's Host check, on each request, and for a
  // discovered target against a wildcard listener: under such a unit the first scrape of
  // `metrics: { listen: 0.0.0.0:9464 }` killed the primary, and every worker with it.
  const callers = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .filter((file) => /\bnetworkInterfaces\(\)/.test(readFileSync(join(ROOT, 'src', file), 'utf8')));
  assert.ok(callers.length > 0, 'the gateway lists the interfaces somewhere (or this test is moot)');
  const families = unitValue(unit, 'Service', 'RestrictAddressFamilies').split(/\s+/);
  assert.ok(
    families.includes('AF_NETLINK'),
    `RestrictAddressFamilies=${families.join(' ')} refuses the netlink socket ${callers.join(', ')} need(s)`,
  );
});

test("candor.service: automatic HTTPS's default acme.storage, as the unit runs it, is under the StateDirectory it may write", () => {
  // Environment= lines, each a space-separated list of KEY=VALUE (none here are quoted).
  const env = Object.fromEntries(
    unitValues(unit, 'Service', 'Environment').flatMap((line) =>
      line.split(/\s+/).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    ),
  );
  const written = config.acme?.storage;
  // A DynamicUser's HOME is /: without XDG_DATA_HOME the default is /.local/share/candor/acme,
  // which ProtectSystem=strict makes read-only (every start with acme died on it).
  assert.ok(
    written !== undefined || env.XDG_DATA_HOME,
    'the unit sets XDG_DATA_HOME, or candor.yaml acme.storage',
  );
  const saved = process.env.XDG_DATA_HOME;
  process.env.XDG_DATA_HOME = env.XDG_DATA_HOME;
  let storage: string;
  try {
    storage = written ?? DEFAULTS.acme.storage();
  } finally {
    if (saved === undefined) delete process.env.XDG_DATA_HOME;
    else process.env.XDG_DATA_HOME = saved;
  }
  const state = unitValue(unit, 'Service', 'StateDirectory');
  assert.ok(
    storage.startsWith(`/var/lib/${state}/`),
    `acme.storage ${storage} is under /var/lib/${state}/, the one place of /var/lib the unit may write`,
  );
});

// ---------------------------------------------------------------------------------------------
// deploy/Dockerfile

const dockerfile = parseDockerfile(readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8'));
const finalStage = Math.max(...dockerfile.map((i) => i.stage));
const inFinal = (name: string) => dockerfile.filter((i) => i.stage === finalStage && i.name === name);
const one = (name: string): string => {
  const found = inFinal(name);
  assert.equal(found.length, 1, `one ${name} in the runtime stage`);
  return found[0].args;
};

test('Dockerfile: the build stage packs the project, the runtime stage installs the tarball without dev dependencies', () => {
  assert.ok(finalStage >= 1, 'multi-stage');
  const buildName = /\bAS (\w+)$/i.exec(
    dockerfile.find((i) => i.name === 'FROM' && i.stage === 0)!.args,
  )?.[1];
  assert.ok(buildName, 'the build stage is named');
  const buildRuns = dockerfile.filter((i) => i.stage === 0 && i.name === 'RUN').map((i) => i.args);
  assert.ok(
    buildRuns.some((r) => /\bnpm ci\b/.test(r)),
    'npm ci',
  );
  assert.ok(
    buildRuns.some((r) => /\bnpm pack\b/.test(r)),
    'npm pack',
  );
  // Every file the build copies exists in the checkout (a rename would break the image).
  for (const copy of dockerfile.filter((i) => i.name === 'COPY' && !i.args.startsWith('--from'))) {
    const sources = copy.args.split(' ').slice(0, -1);
    for (const source of sources) assert.ok(existsSync(join(ROOT, source)), `COPY source ${source} exists`);
  }
  const fromBuild = inFinal('COPY').find((i) => i.args.startsWith(`--from=${buildName} `));
  assert.match(fromBuild?.args ?? '', /candor-\*\.tgz/, 'the runtime stage takes the tarball');
  const install = inFinal('RUN').find((i) => /\bnpm install\b/.test(i.args));
  assert.ok(install, 'the runtime stage installs the package');
  assert.match(install.args, /npm install (--\S+ )*--omit=dev\b/);
  assert.match(install.args, /npm install [^&]*candor-\*\.tgz/);
});

test("Dockerfile: the build stage has every file package.json's `files` packs, so the image's package is a release's", () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  // What the build stage's COPYs put in its WORKDIR: each source's top-level name there.
  const copied = new Set<string>();
  for (const copy of dockerfile.filter(
    (i) => i.stage === 0 && i.name === 'COPY' && !i.args.startsWith('--'),
  )) {
    const parts = copy.args.split(' ');
    const destination = parts.at(-1) ?? '';
    for (const source of parts.slice(0, -1))
      copied.add(destination === './' ? source : posix.normalize(destination).replace(/\/$/, ''));
  }
  for (const entry of manifest.files) {
    const top = entry.split('/')[0];
    // dist/ is what the build makes (prepack); every other entry comes from the checkout.
    if (top === 'dist') continue;
    assert.ok(
      copied.has(top),
      `${entry} (package.json files) is copied into the build stage: ${[...copied]}`,
    );
  }
});

test('Dockerfile: a non-root numeric user, the listener port, the drain signal, no token baked in', () => {
  const user = one('USER');
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  assert.ok(match, `USER is numeric (Kubernetes runAsNonRoot checks it): ${user}`);
  assert.notEqual(Number(match[1]), 0, 'not root');
  const install = inFinal('RUN').find((i) => /useradd/.test(i.args));
  assert.match(
    install?.args ?? '',
    new RegExp(`useradd [^&]*--uid ${match[1]}\\b`),
    'the user exists in the image',
  );
  assert.deepEqual(one('EXPOSE').split(' '), [String(LISTEN.port)]);
  const stop = one('STOPSIGNAL');
  assert.equal(actionOf(stop), 'drain', `${stop} drains the gateway (src/server/gateway/signals.ts)`);
  for (const i of dockerfile)
    if (i.name === 'ENV' || i.name === 'ARG')
      assert.ok(!i.args.includes(TOKEN_ENV), `${i.name} does not bake ${TOKEN_ENV} into the image`);
});

test('Dockerfile: the entrypoint runs candor serve on the config the image copies', () => {
  const entrypoint = execForm(one('ENTRYPOINT'));
  assert.deepEqual(entrypoint.slice(0, 2), ['candor', 'serve']);
  const path = option(entrypoint, '--config');
  assert.ok(path, 'ENTRYPOINT passes --config');
  const copy = inFinal('COPY').find((i) => i.args.startsWith('deploy/candor.yaml '));
  assert.ok(copy, 'the image copies deploy/candor.yaml');
  assert.equal(copy.args, `deploy/candor.yaml ${path}`);
});

/** The `docker run` commands a reader copies: the Dockerfile's header and docs/operations.md's. */
function dockerRuns(): { where: string; command: string }[] {
  const header = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('#'))
    .map((line) => line.replace(/^#\s?/, ''))
    .join('\n')
    .replace(/\\\n\s*/g, ' ');
  const docs = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  return [
    ...[...header.matchAll(/^\s*(docker run .*)$/gm)].map((m) => ({
      where: 'deploy/Dockerfile',
      command: m[1],
    })),
    ...[...docs.matchAll(/`(docker run [^`]*)`/g)].map((m) => ({
      where: 'docs/operations.md',
      command: m[1],
    })),
  ];
}

test("Dockerfile: every docker run it and the docs give stops after drain.timeout, not at docker's 10 s", () => {
  const runs = dockerRuns();
  assert.ok(
    runs.some((r) => r.where === 'deploy/Dockerfile'),
    "the Dockerfile's header shows a docker run",
  );
  assert.ok(
    runs.some((r) => r.where === 'docs/operations.md'),
    'docs/operations.md shows a docker run',
  );
  for (const { where, command } of runs) {
    // Only a command that runs the image: `docker run --stop-timeout 45` in a sentence names the flag.
    if (!/\bcandor:\S+/.test(command)) continue;
    const seconds = /--stop-timeout[ =](\d+)/.exec(command)?.[1];
    assert.ok(seconds, `${where}: ${command} sets --stop-timeout (docker's default, 10 s, cuts the drain)`);
    assert.ok(
      Number(seconds) * 1000 > config.drain.timeout,
      `${where}: --stop-timeout ${seconds} s is above drain.timeout (${config.drain.timeout} ms)`,
    );
  }
});

/** The HEALTHCHECK's `node -e` script, and the admin URL it asks. */
function healthcheck(): { script: string; url: URL } {
  const args = one('HEALTHCHECK');
  const cmd = /^(?:--\S+ )*CMD (\[.*\])$/.exec(args);
  assert.ok(cmd, `HEALTHCHECK … CMD [exec form]: ${args}`);
  const argv = execForm(cmd[1]);
  assert.deepEqual(argv.slice(0, 2), ['node', '-e'], 'Node itself: the image has no curl');
  const url = /fetch\('([^']+)'/.exec(argv[2])?.[1];
  assert.ok(url, 'the script fetches a URL');
  return { script: argv[2], url: new URL(url) };
}

test("Dockerfile: the HEALTHCHECK asks the admin listener's /ready", () => {
  const { url } = healthcheck();
  assert.equal(url.host, admin.address, 'the admin listener, on the container loopback');
  assert.equal(probeAt('/', url.pathname), 'ready', 'the readiness probe (no token)');
});

test('Dockerfile: the HEALTHCHECK script passes on 200 and fails on 503 or no answer', async () => {
  const { script, url } = healthcheck();
  let answer = 200;
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(answer, { 'content-type': 'application/json' }).end('{}');
  });
  // Closed for the last check (nothing listening): on a port no other test file's listen(0) is
  // given meanwhile, whose server could answer 200 there.
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  // The script runs unchanged; only its fetch is pointed at this server instead of port 9901.
  const redirect = `const f = globalThis.fetch; globalThis.fetch = (u, o) => { const x = new URL(u); x.host = '127.0.0.1:${port}'; return f(x, o); };`;
  const check = () =>
    run(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(redirect)}`, '-e', script],
      process.env,
    );
  try {
    assert.equal((await check()).code, 0, 'ready: healthy');
    answer = 503;
    assert.equal((await check()).code, 1, 'draining: unhealthy');
    assert.deepEqual(asked, [url.pathname, url.pathname]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.equal((await check()).code, 1, 'nothing listening: unhealthy');
});

// ---------------------------------------------------------------------------------------------
// deploy/kubernetes.yaml

// biome-ignore lint/suspicious/noExplicitAny: the manifests are read as plain YAML data
type Manifest = any;
const manifests: Manifest[] = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes.yaml'), 'utf8')).map(
  (doc) => {
    assert.deepEqual(doc.errors, [], 'kubernetes.yaml parses');
    return doc.toJS();
  },
);
const byKind = (kind: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
};
const configMap = byKind('ConfigMap');
const deployment = byKind('Deployment');
const service = byKind('Service');
const pod = deployment.spec.template.spec;
assert.equal(pod.containers.length, 1);
const container = pod.containers[0];
/** A container port by number or by name. */
const portNumber = (port: number | string): number =>
  typeof port === 'number' ? port : container.ports.find((p: Manifest) => p.name === port)?.containerPort;

test("kubernetes.yaml: the ConfigMap holds deploy/candor.yaml, mounted where the container's --config reads it", () => {
  const argv: string[] = [...(container.command ?? []), ...(container.args ?? [])];
  assert.deepEqual(argv.slice(0, 2), ['candor', 'serve']);
  const path = option(argv, '--config');
  assert.ok(path, 'the container passes --config');
  const mount = container.volumeMounts.find((m: Manifest) => m.mountPath === posix.dirname(path));
  assert.ok(mount, `a volume is mounted at ${posix.dirname(path)}`);
  assert.equal(mount.subPath, undefined, 'a directory mount: a subPath never sees ConfigMap updates');
  const volume = pod.volumes.find((v: Manifest) => v.name === mount.name);
  assert.equal(volume?.configMap?.name, configMap.metadata.name, 'the mounted volume is the ConfigMap');
  assert.equal(
    configMap.data[posix.basename(path)],
    CONFIG_TEXT,
    'the ConfigMap holds deploy/candor.yaml as it is',
  );
  const workers = Number(option(argv, '--workers'));
  const cpuLimit = String(container.resources.limits.cpu);
  const cpus = cpuLimit.endsWith('m') ? Number(cpuLimit.slice(0, -1)) / 1000 : Number(cpuLimit);
  assert.ok(
    workers >= 1 && workers <= Math.ceil(cpus),
    `--workers ${workers} fits the CPU limit ${cpuLimit}`,
  );
});

test("kubernetes.yaml: the container port, the probes and the Service target the gateway's listener and probe paths", () => {
  assert.ok(container.ports.some((p: Manifest) => p.containerPort === LISTEN.port));
  const prefix = admin.probesPath;
  assert.ok(prefix, 'the config serves probes on the main listener');
  assert.equal(probeAt(prefix, container.readinessProbe.httpGet.path), 'ready');
  assert.equal(portNumber(container.readinessProbe.httpGet.port), LISTEN.port);
  assert.equal(probeAt(prefix, container.livenessProbe.httpGet.path), 'live');
  assert.equal(portNumber(container.livenessProbe.httpGet.port), LISTEN.port);
  const [servicePort] = service.spec.ports;
  assert.equal(portNumber(servicePort.targetPort), LISTEN.port);
  assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
  assert.deepEqual(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
});

test('kubernetes.yaml: no preStop, a grace period above drain.timeout, the token from a Secret, a non-root pod', () => {
  assert.equal(container.lifecycle?.preStop, undefined, 'the readiness flip and drain.delay do its job');
  const grace = pod.terminationGracePeriodSeconds * 1000;
  assert.ok(grace > config.drain.timeout, `grace ${grace} ms > drain.timeout ${config.drain.timeout} ms`);
  const token = container.env.find((e: Manifest) => e.name === TOKEN_ENV);
  assert.ok(token?.valueFrom?.secretKeyRef?.name, `${TOKEN_ENV} comes from a Secret`);
  assert.equal(token.value, undefined, 'never written in the manifest');
  assert.ok(!manifests.some((m) => m.kind === 'Secret'), 'no Secret (with a token) in the file');
  for (const part of ['requests', 'limits'])
    for (const resource of ['cpu', 'memory'])
      assert.ok(container.resources[part]?.[resource], `resources.${part}.${resource}`);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const user = /^(\d+)/.exec(one('USER'))?.[1];
  assert.equal(String(pod.securityContext.runAsUser), user, "the image's user (deploy/Dockerfile USER)");
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  // With a read-only root, Node's compile cache needs somewhere writable.
  const cache = container.env.find((e: Manifest) => e.name === 'NODE_COMPILE_CACHE')?.value;
  assert.ok(
    cache && container.volumeMounts.some((m: Manifest) => cache.startsWith(`${m.mountPath}/`) && !m.readOnly),
    'NODE_COMPILE_CACHE is on a writable mount',
  );
});

test("kubernetes.yaml: a gateway on the ConfigMap's config answers the probes' paths, ready turning 503 on drain", async () => {
  const fromConfigMap = parseConfig(configMap.data['candor.yaml'], '/etc/candor/candor.yaml', ENV);
  // Port 0 for the test; everything else as the pod runs it.
  const local = {
    ...fromConfigMap,
    listen: [{ ...LISTEN, address: '127.0.0.1:0', host: '127.0.0.1', port: 0 }],
  };
  const gateway = await startGateway(local, {
    logger: createLoggerOn({ write: () => true }, 'silent', local.name),
  });
  const port = gateway.listeners[0].port();
  const get = (path: string) =>
    fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => ({ status: r.status, body: await r.json() }));
  try {
    assert.deepEqual(await get(container.readinessProbe.httpGet.path), {
      status: 200,
      body: { status: 'ready' },
    });
    assert.deepEqual(await get(container.livenessProbe.httpGet.path), {
      status: 200,
      body: { status: 'live' },
    });
    const draining = gateway.drain();
    // During drain.delay the listener still answers: ready says 503, live still 200.
    assert.deepEqual(await get(container.readinessProbe.httpGet.path), {
      status: 503,
      body: { status: 'draining' },
    });
    assert.deepEqual(await get(container.livenessProbe.httpGet.path), {
      status: 200,
      body: { status: 'live' },
    });
    await gateway.drainNow();
    await draining;
  } finally {
    await gateway.drainNow();
  }
});

test('deploy/ holds the recipes this file (and fleet.test.ts) checks, and nothing unchecked', () => {
  assert.deepEqual(readdirSync(DEPLOY).sort(), [
    'Dockerfile',
    'Dockerfile.dockerignore',
    'candor-fleet.yaml',
    'candor.service',
    'candor.yaml',
    'kubernetes-fleet.yaml',
    'kubernetes.yaml',
  ]);
  const dockerignore = readFileSync(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8').split('\n');
  assert.ok(dockerignore.includes('**/node_modules'), 'node_modules stays out of the build context');
});
