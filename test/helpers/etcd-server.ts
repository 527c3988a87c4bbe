import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { EtcdClient } from '../../src/upstream/config-source/etcd-client.ts';
import { stopped } from './process-state.ts';
import { tempDir } from './temp-dir.ts';
import { freePort, waitUntil } from './wait.ts';

/** PEM files for etcd's client URL: its certificate and key, and the CA its clients must present a certificate of. */
export interface EtcdTls {
  readonly certPath: string;
  readonly keyPath: string;
  /** With it, etcd asks every client for a certificate this CA signed (--client-cert-auth). */
  readonly clientCaPath?: string;
  /** What the readiness poll trusts and presents (PEM text). */
  readonly poll: { readonly ca: string; readonly cert?: string; readonly key?: string };
}

/** A real `etcd` (Debian's etcd-server) on loopback ports, its data in a temporary folder, killed by the test. */
export interface EtcdProcess {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** SIGKILL, as a crash would; the data folder stays, for start(). */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
  /** Kills it, removes its data and starts it again: a member restored empty, its revisions begun afresh. */
  wipe(): Promise<void>;
  /**
   * SIGSTOP: alive, its connections open, and silent (a hung member, a stalled VM). Resolves once
   * every thread of it is stopped: the signal is only queued when kill() returns, and a thread of
   * Go's running on the other core answered a request sent right after (a loaded run did).
   */
  freeze(): Promise<void>;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Kills it and removes its data folder. */
  close(): Promise<void>;
}

const READY_MS = 10_000;

/**
 * A certificate for etcd's client URL (127.0.0.1 and localhost), signed by the fault kit's test
 * CA, good for both ends of TLS: etcd 3.4's JSON gateway dials etcd's own gRPC port with the
 * server's certificate as its client certificate, which --client-cert-auth then checks.
 */
export function etcdCertificate(): { certPath: string; keyPath: string } {
  const { dir } = testCertificates();
  const name = `etcd-${process.pid}`;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-addext',
      'extendedKeyUsage=serverAuth,clientAuth',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { certPath: join(dir, `${name}.pem`), keyPath: join(dir, `${name}.key`) };
}

/**
 * etcd cannot listen on port 0 (it must advertise its URLs), so both ports are ones that were
 * free a moment ago (freePort). Fast to start: one member, no fsync worth waiting for on tmpfs.
 */
export async function startEtcd(tls?: EtcdTls, flags: readonly string[] = []): Promise<EtcdProcess> {
  const [member] = await startEtcdCluster(1, tls, flags);
  return member;
}

/**
 * `size` members of one etcd cluster on loopback, started together (each waits for a quorum of
 * the others before it answers). A member killed keeps its data folder, so start() brings it back
 * into the cluster; close() removes it.
 */
export async function startEtcdCluster(
  size: number,
  tls?: EtcdTls,
  /** More of etcd's flags for every member (`--auth-token-ttl`, ...). */
  flags: readonly string[] = [],
): Promise<EtcdProcess[]> {
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const scheme = tls === undefined ? 'http' : 'https';
  const cluster = ports.map(({ peer }, i) => `m${i}=http://127.0.0.1:${peer}`).join(',');
  const members = ports.map(({ client, peer }, i) =>
    member(`m${i}`, `${scheme}://127.0.0.1:${client}`, `http://127.0.0.1:${peer}`, cluster, tls, flags),
  );
  try {
    await Promise.all(members.map((m) => m.start()));
  } catch (err) {
    await Promise.all(members.map((m) => m.close()));
    throw err;
  }
  return members;
}

function member(
  name: string,
  endpoint: string,
  peerUrl: string,
  cluster: string,
  tls: EtcdTls | undefined,
  flags: readonly string[],
): EtcdProcess {
  const dir = tempDir('candor-etcd-');
  const tlsFlags =
    tls === undefined
      ? []
      : [
          '--cert-file',
          tls.certPath,
          '--key-file',
          tls.keyPath,
          ...(tls.clientCaPath === undefined
            ? []
            : ['--trusted-ca-file', tls.clientCaPath, '--client-cert-auth']),
        ];
  const poller = new EtcdClient({
    endpoints: [endpoint],
    timeoutMs: 500,
    ...(tls === undefined ? {} : { tls: tls.poll }),
  });
  let child: ChildProcess | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const started = spawn(
        'etcd',
        [
          '--name',
          name,
          '--data-dir',
          join(dir, 'data'),
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          peerUrl,
          '--initial-advertise-peer-urls',
          peerUrl,
          '--initial-cluster',
          cluster,
          '--log-level',
          'error',
          ...tlsFlags,
          ...flags,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child = started;
      let output = '';
      started.stderr?.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4096);
      });
      // Not ready in time: killed, so that no etcd outlives the test that could not use it.
      const timer = setTimeout(() => {
        started.removeAllListeners('exit');
        started.kill('SIGKILL');
        reject(new Error(`etcd ${name} not ready after ${READY_MS} ms: ${output}`));
      }, READY_MS);
      started.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not start etcd (apt-get install etcd-server): ${err.message}`));
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`etcd ${name} exited (${code}): ${output}`));
      });
      // Ready once it answers a read through its JSON gateway (a read a quorum agrees on).
      const poll = async () => {
        while (started.exitCode === null && started.signalCode === null) {
          try {
            await poller.range('\0');
            clearTimeout(timer);
            return resolve();
          } catch {
            // Not listening yet, or no quorum yet.
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      void poll();
    });
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  return {
    endpoint,
    kill,
    start,
    async wipe() {
      await kill();
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      await start();
    },
    async freeze() {
      child?.kill('SIGSTOP');
      const pid = child?.pid;
      if (pid !== undefined) await waitUntil('every thread of etcd stopped', () => stopped(pid));
    },
    thaw: () => child?.kill('SIGCONT'),
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
