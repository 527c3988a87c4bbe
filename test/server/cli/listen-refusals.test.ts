/**
 * `candor serve` on an address it cannot listen on for a reason other than another process holding
 * it says the reason in words, with what to do, at the field: a port below 1024 as a user who may
 * not bind it (EACCES), an address no interface of the machine has (EADDRNOTAVAIL). Both were
 * `cannot listen on 127.0.0.1:80 (EACCES)`, an errno code for the operator to look up.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { addressTakenMessage } from '../../../src/core/net/address-probe.ts';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** The lowest port a user may bind without CAP_NET_BIND_SERVICE (Linux). */
function unprivilegedStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    return 1024;
  }
}

/** A config listening on `address` (its folder readable by every user: a test may run it as nobody). */
function config(address: string): string {
  const dir = tempDir('candor-listen-refused-');
  chmodSync(dir, 0o755);
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: ${address}\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: http://127.0.0.1:9 }]\n`,
  );
  chmodSync(path, 0o644);
  return path;
}

/** `candor serve` (as `prefix`'s command line runs it) that should not start: its exit code and stderr. */
function serveExpectingExit(
  path: string,
  prefix: string[] = [],
): Promise<{ code: number | null; stderr: string }> {
  const [command, ...args] = [...prefix, process.execPath, BIN, 'serve', '--workers', '2', '--config', path];
  return new Promise((resolve) => {
    const child = killAtExit(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      // Listening after all (a port the user may bind): no refusal to read.
      if (stdout.includes('"msg":"listening"')) child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('the words for each refusal: a privileged port, an address the machine lacks', () => {
  const start = unprivilegedStart();
  assert.equal(
    addressTakenMessage({ address: '127.0.0.1:80', code: 'EACCES', holder: undefined }),
    `cannot listen on 127.0.0.1:80: permission denied (EACCES): a port below ${start} needs root or the CAP_NET_BIND_SERVICE capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE); or listen on a port from ${start} up`,
  );
  // A port a user may bind, refused all the same: a security policy, not the port's number.
  assert.equal(
    addressTakenMessage({ address: '[::1]:8080', code: 'EACCES', holder: undefined }),
    'cannot listen on [::1]:8080: permission denied (EACCES): a security policy (SELinux, AppArmor, seccomp) forbids this process the address',
  );
  assert.equal(
    addressTakenMessage({ address: '192.0.2.1:8080', code: 'EADDRNOTAVAIL', holder: undefined }),
    'cannot listen on 192.0.2.1:8080: no interface of this machine has that address (EADDRNOTAVAIL); listen on one it has, or on 0.0.0.0',
  );
  assert.equal(
    addressTakenMessage({ address: '127.0.0.1:8080', code: 'EINVAL', holder: undefined }),
    'cannot listen on 127.0.0.1:8080 (EINVAL)',
  );
});

test('serve on an address no interface has: exit 69, the field and the reason in words', async () => {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): documentation only, on no machine's interface.
  const path = config('192.0.2.1:8080');
  const { code, stderr } = await serveExpectingExit(path);
  assert.equal(code, 69, stderr);
  assert.equal(
    stderr,
    `candor: could not start: ${path}:2:5  listen[0].address: cannot listen on 192.0.2.1:8080: no interface of this machine has that address (EADDRNOTAVAIL); listen on one it has, or on 0.0.0.0\n`,
  );
});

const asRoot = process.getuid?.() === 0;
const setpriv = spawnSync('setpriv', ['--version']).status === 0;
const start = unprivilegedStart();
test('serve as an unprivileged user on a port below 1024: exit 69, the field, the reason and the way out', {
  skip:
    start === 0
      ? 'every port is unprivileged here'
      : asRoot && !setpriv
        ? 'root without setpriv: no unprivileged user to run it as'
        : false,
}, async () => {
  const path = config(`127.0.0.1:${start - 1}`);
  const prefix = asRoot ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
  const { code, stderr } = await serveExpectingExit(path, prefix);
  assert.equal(code, 69, stderr);
  assert.equal(
    stderr,
    `candor: could not start: ${path}:2:5  listen[0].address: cannot listen on 127.0.0.1:${start - 1}: permission denied (EACCES): a port below ${start} needs root or the CAP_NET_BIND_SERVICE capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE); or listen on a port from ${start} up\n`,
  );
});
