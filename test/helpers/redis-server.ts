import { type ChildProcess, spawn } from 'node:child_process';
import type { CertificateFiles } from '../../src/kits/fault-kit/tls-certs.ts';
import { freePort } from './wait.ts';

/** A real `redis-server` (Debian's package) on a loopback port, started and killed by the test. */
export interface RedisProcess {
  readonly port: number;
  /** redis://:PASSWORD@127.0.0.1:PORT (rediss://:PASSWORD@localhost:PORT with `tls`) */
  readonly url: string;
  /** SIGKILL, as a crash or an OOM kill would: no goodbye to the clients. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: it keeps nothing on disk). */
  start(): Promise<void>;
  /** SIGSTOP: it holds its connections and answers nothing, as a server stalled by a long fork or swap. */
  pause(): void;
  /** SIGCONT: it answers again, the commands that waited first. */
  resume(): void;
}

/**
 * Redis cannot listen on port 0, so the port is one that was free a moment ago (freePort
 * binds it first). Nothing is saved to disk; a password is required, as in production. With
 * `tls` it speaks only TLS on that port, that certificate its own (clients show none).
 */
export async function startRedis(
  password = 'test-secret-password',
  tls?: CertificateFiles,
): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const listen = tls === undefined ? ['--port', String(port)] : tlsOnly(port, tls);
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      const started = spawn('redis-server', [...args, '--requirepass', password], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server not ready after 5 s: ${output}`)), 5000);
      started.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not start redis-server (apt-get install redis-server): ${err.message}`));
      });
      started.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${output}`));
      });
    });
  await start();
  return {
    port,
    url:
      tls === undefined
        ? `redis://:${password}@127.0.0.1:${port}`
        : `rediss://:${password}@localhost:${port}`,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
}

/** The arguments that make Redis speak TLS only on `port`, with `tls` as its certificate, clients showing none. */
function tlsOnly(port: number, tls: CertificateFiles): string[] {
  const files = ['--tls-cert-file', tls.certPath, '--tls-key-file', tls.keyPath];
  return ['--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no', ...files];
}
