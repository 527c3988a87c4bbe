/**
 * A command run with the system resolver (getaddrinfo) asking a DNS server of the test's own: a
 * mount and network namespace (root: `unshare -mn`, as CI runs) whose /etc/resolv.conf names
 * 127.0.0.1 only, loopback up. The command starts that server (helpers/dns-server.ts on port 53).
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.ts';

/**
 * Runs `command` with /etc/resolv.conf naming 127.0.0.1 only (no retries, `timeout` seconds per
 * question: 8 by default, longer than a JWKS fetch's 5 s), loopback up. A lookup never answered
 * holds its thread, and the command's exit, that long.
 */
export function withOwnResolver(
  command: string,
  timeout = 8,
  /** The servers resolv.conf names, in its order (loopback addresses, each served on port 53). */
  nameservers: readonly string[] = ['127.0.0.1'],
): { status: number | null; stdout: string; stderr: string } {
  const dir = tempDir('candor-resolv-');
  try {
    const conf = join(dir, 'resolv.conf');
    const named = nameservers.map((server) => `nameserver ${server}\n`).join('');
    writeFileSync(conf, `${named}options timeout:${timeout} attempts:1\n`);
    const setup = `ip link set lo up && mount --bind "${conf}" /etc/resolv.conf`;
    const run = spawnSync('unshare', ['-mn', 'sh', '-c', `${setup} && ${command}`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why a test that needs its own resolver cannot run here, or false when it can. */
export function ownResolverSkip(): string | false {
  const can = withOwnResolver('true');
  return can.status === 0
    ? false
    : `needs a mount and network namespace of its own (unshare -mn, as root): ${can.stderr.trim()}`;
}
