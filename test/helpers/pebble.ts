import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { tempDir } from './temp-dir.ts';
import { freePort } from './wait.ts';

/**
 * Debian's `pebble`, Let's Encrypt's test CA, on loopback, validating for real: it resolves
 * every name through `pebble-challtestsrv`'s DNS (each name → 127.0.0.1) and connects to
 * `httpPort` for HTTP-01 and `tlsPort` for TLS-ALPN-01 (the gateway's listeners). No sleep
 * before validating, no authorization reused between orders (each order is validated).
 */
export interface Pebble {
  /** The ACME directory URL. */
  readonly directory: string;
  /** PEM of the root Pebble's own HTTPS certificate chains to (the config's `acme.ca`). */
  readonly caPath: string;
  readonly ca: string;
  /** The DNS server Pebble asks (pebble-challtestsrv: every name → 127.0.0.1; or `dnsServer`), host:port. */
  readonly dns: string;
  /** PEM of the root Pebble issues under (random per run): to verify an issued chain. */
  issuingRoot(): Promise<string>;
  /** Pebble started again on the same ports, knowing nothing of before (as a CA that lost its accounts). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  readonly httpPort: number;
  readonly tlsPort: number;
  /** Per cent of nonces Pebble refuses as bad, to make clients retry (its default 5). */
  readonly nonceReject?: number;
  /**
   * The DNS server Pebble resolves through (host:port), instead of a pebble-challtestsrv of its
   * own: a real zone's server (test/helpers/knot.ts), where a DNS-01 record is looked for.
   */
  readonly dnsServer?: string;
  /** Names Pebble refuses to order (`rejectedIdentifier`), as a CA's policy does. */
  readonly blocklist?: readonly string[];
  /** How long Pebble's certificates are valid, in seconds (its default five years). */
  readonly validitySeconds?: number;
}

/**
 * Pebble on fresh ports, once its directory and management API answer. A port freePort found
 * free may be taken by another test file's server before Pebble binds it (the suite runs four
 * files at once): Pebble then says it is ready and never listens there, so each start is
 * proven by an answer, and one that gives none is stopped and made again on other ports.
 */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  for (let attempt = 1; ; attempt++) {
    const pebble = await startPebbleOnce(options);
    const answered = await answers(pebble);
    if (answered === undefined) return pebble;
    await pebble.stop();
    if (attempt === 3)
      throw new Error(`pebble did not answer on its ports, three times: ${answered.message}`);
  }
}

/**
 * Whether Pebble answers on its ports: undefined once it does, else the last error after 3 s.
 * Pebble prints that its directory is available before its listeners accept (a connection right
 * after the line may be refused), so a refusal is asked again until then.
 */
async function answers(pebble: Pebble): Promise<Error | undefined> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const error = await Promise.all([fetchText(pebble.directory, pebble.ca), pebble.issuingRoot()]).then(
      () => undefined,
      (err: Error) => err,
    );
    if (error === undefined || Date.now() > deadline) return error;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startPebbleOnce(options: PebbleOptions): Promise<Pebble> {
  const dir = tempDir('candor-pebble-');
  const certs = testCertificates();
  const [acmePort, managementPort, dnsPort, challManagement] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const config = join(dir, 'pebble.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: certs.localhost.certPath,
        privateKey: certs.localhost.keyPath,
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.blocklist === undefined ? {} : { domainBlocklist: options.blocklist }),
        ...(options.validitySeconds === undefined
          ? {}
          : { certificateValidityPeriod: options.validitySeconds }),
      },
    }),
  );
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const dns = options.dnsServer ?? `127.0.0.1:${dnsPort}`;
  const startCa = () =>
    started(
      'pebble',
      ['-config', config, '-dnsserver', dns, '-strict=false'],
      {
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_AUTHZREUSE: '0',
        PEBBLE_WFE_NONCEREJECT: String(options.nonceReject ?? 5),
      },
      /ACME directory available at/,
    );
  try {
    if (options.dnsServer === undefined)
      children.push(
        await started(
          'pebble-challtestsrv',
          [
            '-dns01',
            `127.0.0.1:${dnsPort}`,
            '-http01',
            '',
            '-https01',
            '',
            '-tlsalpn01',
            '',
            '-management',
            `127.0.0.1:${challManagement}`,
            '-defaultIPv4',
            '127.0.0.1',
            '-defaultIPv6',
            '',
          ],
          {},
          /Starting challenge servers|Creating TCP and UDP DNS-01 challenge server/,
        ),
      );
    children.push(await startCa());
  } catch (err) {
    await stop();
    throw err;
  }
  const pebble: Pebble = {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caPath: certs.caPath,
    ca: certs.ca,
    dns,
    issuingRoot: () => fetchText(`https://127.0.0.1:${managementPort}/roots/0`, certs.ca),
    restart: async () => {
      const ca = children.pop() as ChildProcess;
      await new Promise<void>((resolve) => {
        if (ca.exitCode !== null || ca.signalCode !== null) return resolve();
        ca.once('exit', () => resolve());
        ca.kill('SIGKILL');
      });
      children.push(await startCa());
      // Its line comes before its listeners accept: an order right after it was refused (under
      // the whole suite's load), where the test meant the CA's own word on a forgotten account.
      const error = await answers(pebble);
      if (error !== undefined) throw new Error(`pebble did not answer after its restart: ${error.message}`);
    },
    stop,
  };
  return pebble;
}

/** Spawns `command` and resolves once its output matches `ready` (10 s at most). */
function started(
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} not ready after 10 s:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${command} (apt-get install pebble): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited ${code} before it was ready:\n${output}`));
    });
  });
}

function fetchText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}
