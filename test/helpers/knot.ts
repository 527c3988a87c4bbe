import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { tempDir } from './temp-dir.ts';
import { freePort } from './wait.ts';

/**
 * Debian's Knot DNS (`knotd`) on a loopback port, authoritative for one zone whose every name
 * is 127.0.0.1, taking dynamic updates (RFC 2136) signed with one TSIG key (hmac-sha256). Its
 * run folder, journal and zone file live in a temporary folder; it runs as whoever runs the
 * tests (root in CI). Pebble is told to resolve through it, so a DNS-01 TXT record the gateway
 * adds is the one the CA finds.
 */
export interface Knot {
  /** 127.0.0.1:PORT, TCP and UDP. */
  readonly address: string;
  readonly port: number;
  readonly zone: string;
  readonly keyName: string;
  /** The key's secret, base64 (as `acme.dns01.tsig.secret_env`'s variable holds it). */
  readonly secret: string;
  /**
   * The zone's history as Knot's journal keeps it (`kjournalprint`): each update's changeset,
   * its removed and added records, oldest first.
   */
  changes(): string;
  stop(): Promise<void>;
}

export async function startKnot(zone = 'example.test'): Promise<Knot> {
  const dir = tempDir('candor-knot-');
  const port = await freePort();
  const keyName = 'candor-key';
  const secret = randomBytes(32).toString('base64');
  const { username } = userInfo();
  writeFileSync(
    join(dir, `${zone}.zone`),
    `$ORIGIN ${zone}.
$TTL 60
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
@ A 127.0.0.1
* A 127.0.0.1
`,
  );
  writeFileSync(
    join(dir, 'knot.conf'),
    `server:
    rundir: "${dir}"
    user: ${username}
    listen: 127.0.0.1@${port}
log:
  - target: stderr
    any: info
database:
    storage: "${dir}"
key:
  - id: ${keyName}
    algorithm: hmac-sha256
    secret: ${secret}
acl:
  - id: update
    key: ${keyName}
    action: update
zone:
  - domain: ${zone}
    storage: "${dir}"
    file: "${zone}.zone"
    acl: update
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
`,
  );
  // In /usr/sbin, which a user's PATH may leave out.
  const knotd = existsSync('/usr/sbin/knotd') ? '/usr/sbin/knotd' : 'knotd';
  const child = spawn(knotd, ['-c', join(dir, 'knot.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () =>
    new Promise<void>((resolve) => {
      const gone = () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return gone();
      child.once('exit', gone);
      child.kill('SIGKILL');
    });
  try {
    await ready(child, new RegExp(`\\[${zone.replace(/\./g, '\\.')}\\.\\] loaded`));
  } catch (err) {
    await stop();
    throw err;
  }
  const kjournalprint = existsSync('/usr/sbin/kjournalprint') ? '/usr/sbin/kjournalprint' : 'kjournalprint';
  // Knot makes its journal at the zone's first update: none yet is no change yet.
  const changes = () =>
    existsSync(join(dir, 'journal'))
      ? execFileSync(kjournalprint, ['-x', '-D', join(dir, 'journal'), zone], {
          encoding: 'utf8',
          timeout: 10_000,
        })
      : '';
  return { address: `127.0.0.1:${port}`, port, zone, keyName, secret, changes, stop };
}

/** Resolves once knotd says the zone is loaded (10 s at most). */
function ready(child: ChildProcess, loaded: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`knotd not ready after 10 s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (loaded.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start knotd (apt-get install knot): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`knotd exited ${code} before it was ready:\n${output}`));
    });
  });
}
