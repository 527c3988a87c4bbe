import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './wait.ts';

/** A real `etcd` (Debian's etcd-server) on loopback ports, its data in a temporary folder, killed by the test. */
export interface EtcdProcess {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** SIGKILL, as a crash would; the data folder stays, for start(). */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
  /** Kills it and removes its data folder. */
  close(): Promise<void>;
}

const READY_MS = 10_000;

/**
 * etcd cannot listen on port 0 (it must advertise its URLs), so both ports are ones that were
 * free a moment ago (freePort). Fast to start: one member, no fsync worth waiting for on tmpfs.
 */
export async function startEtcd(): Promise<EtcdProcess> {
  const [client, peer] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'candor-etcd-'));
  const endpoint = `http://127.0.0.1:${client}`;
  let child: ChildProcess | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const started = spawn(
        'etcd',
        [
          '--name',
          'test',
          '--data-dir',
          join(dir, 'data'),
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-cluster',
          `test=http://127.0.0.1:${peer}`,
          '--log-level',
          'error',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child = started;
      let output = '';
      started.stderr?.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4096);
      });
      const timer = setTimeout(
        () => reject(new Error(`etcd not ready after ${READY_MS} ms: ${output}`)),
        READY_MS,
      );
      started.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not start etcd (apt-get install etcd-server): ${err.message}`));
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`etcd exited (${code}): ${output}`));
      });
      // Ready once it answers a read through its JSON gateway.
      const poll = async () => {
        while (started.exitCode === null) {
          try {
            const answer = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}' });
            if (answer.ok) {
              clearTimeout(timer);
              return resolve();
            }
          } catch {
            // Not listening yet.
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
  await start();
  return {
    endpoint,
    kill,
    start,
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
