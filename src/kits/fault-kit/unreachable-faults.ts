/**
 * Upstreams no connection can be made to: the "unreachable" shape of the failure table.
 */
import { spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { FETCH_BAD_PORTS } from '../../core/net/fetch-bad-ports.ts';
import { type Fault, FaultRecorder, listenLoopback } from './fault.ts';

/**
 * dns_error: the `.invalid` top-level domain never resolves (RFC 6761), so no server is needed.
 * (Where the machine has no resolver at all, the lookup fails with EAI_AGAIN rather than ENOTFOUND.)
 */
export const UNRESOLVABLE_HOST = 'candor-fault.invalid';
export const UNRESOLVABLE_URL = `http://${UNRESOLVABLE_HOST}:80`;

/**
 * destination_ip_unroutable: the limited broadcast address. Linux refuses a TCP connect to a
 * broadcast or multicast address at once with ENETUNREACH, whatever the machine's routes, so
 * no packet leaves and no server is needed. Linux behaviour.
 */
export const UNROUTABLE_URL = 'http://255.255.255.255:80';

/** Ports below 1024 drawn at random (a service may listen on one), and how long one may take to refuse. */
const LOW_PORT_TRIES = 32;
const LOW_PORT_TRY_MS = 250;

/**
 * Low ports given to refusing faults of this process that are not closed yet: two faults a test
 * holds at once are two targets, never one port drawn twice.
 */
const lowPortsHeld = new Set<number>();

/** A loopback port below 1024 that refuses a connection now; undefined when none tried did. */
async function refusedLowPort(): Promise<number | undefined> {
  for (let i = 0; i < LOW_PORT_TRIES; i++) {
    const port = 1 + Math.floor(Math.random() * 1023);
    if (lowPortsHeld.has(port)) continue;
    // fetch() refuses these before connecting ("bad port"): a fault its clients could not reach.
    // Nor a scheme's default (80, 443): its URL is written without the port (`http://127.0.0.1`),
    // so the fault's url and the origin a gateway logs for it would differ.
    if (FETCH_BAD_PORTS.has(port) || port === 80 || port === 443) continue;
    const answer = await tryPort(port);
    if (answer === 'refused') return port;
    // No answer at all: the machine filters these ports, and would the fault's clients too.
    if (answer === 'silent') return undefined;
  }
  return undefined;
}

function tryPort(port: number): Promise<'refused' | 'listening' | 'silent'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (answer: 'refused' | 'listening' | 'silent') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done('silent'), LOW_PORT_TRY_MS);
    socket.once('connect', () => done('listening'));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(error.code === 'ECONNREFUSED' ? 'refused' : 'silent'),
    );
  });
}

/**
 * unreachable / connection_refused: a loopback port nothing listens on, for the fault's life. A
 * SYN to it finds no listener and is answered with a reset (ECONNREFUSED).
 *
 * A closed port below 1024 where there is one (refusedLowPort; none that fetch() refuses as a
 * bad port before connecting, as the Fetch standard has it, nor 80 or 443, which a URL omits): no connect() takes a source
 * port from there and no listen(0) is given one (both draw from the ephemeral range), and only
 * a privileged bind that names it could take it, so it stays refused. A port of the ephemeral
 * range would not, even held: now and then a client's connect to it is given that very port
 * as its own source and reaches itself (TCP's simultaneous open), and an HTTP client then reads
 * its own request as the answer (CI saw a JWKS fetch do it).
 *
 * Where none answers with a reset (a machine that filters them), an ephemeral port held as the
 * local end of a connection the kit keeps open: while it is in use the machine gives it to no
 * other socket (a port bound once and closed could be handed to another process's listen(0)
 * meanwhile, tests running in parallel, and then it answered). Candor's connector tells a
 * connection that reached itself as refused too; another client may not.
 */
export async function startRefusing(): Promise<Fault> {
  const low = await refusedLowPort();
  if (low !== undefined) {
    lowPortsHeld.add(low);
    const recorder = new FaultRecorder();
    recorder.onClose(() => {
      lowPortsHeld.delete(low);
    });
    return recorder.handle(`http://127.0.0.1:${low}`, low);
  }
  let took: (socket: Socket) => void = () => {};
  const taken = new Promise<Socket>((resolve) => {
    took = resolve;
  });
  const holder = createServer((socket) => took(socket));
  const holderPort = await listenLoopback(holder);
  const end = connect(holderPort, '127.0.0.1');
  end.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    end.once('connect', resolve);
    end.once('error', reject);
  });
  // Accepted before the holder stops listening (a connection left in its backlog would be reset).
  const other = await taken;
  other.on('error', () => {});
  // Held, not waited on: a fault nobody closes keeps no process alive (as a closed port did not).
  end.unref();
  other.unref();
  // No one else connects to it: the holder's own listening port is of no use to the fault.
  holder.close();
  const port = end.localPort as number;
  const recorder = new FaultRecorder();
  recorder.onClose(async () => {
    // The holder's side closes first, so that the wait after a close (TIME_WAIT) is spent on its
    // port, not on this one: closed, the fault's port can be listened on again at once.
    // The wait holds the process (a closing program awaits it: with nothing holding the loop it
    // would end with the wait unsettled), 1 s at most.
    end.ref();
    let timer: NodeJS.Timeout | undefined;
    const gone = new Promise((resolve) => {
      end.once('close', resolve);
      timer = setTimeout(resolve, 1000);
    });
    other.destroy();
    await gone;
    clearTimeout(timer);
    end.destroy();
  });
  return recorder.handle(`http://127.0.0.1:${port}`, port);
}

interface UnacceptingOptions {
  /** How long a probe connect may take before the backlog counts as full (default 100 ms). */
  probeMs?: number;
}

/**
 * unreachable / connection_timeout: a listener that never accepts, whose backlog the kit fills,
 * so the kernel drops further SYNs and a connect hangs until the client's connect timeout. The
 * listener lives in a child Node process whose event loop is blocked (Node itself always
 * accepts). Linux behaviour; the factory throws if the backlog cannot be filled.
 */
export async function startUnaccepting(options: UnacceptingOptions = {}): Promise<Fault> {
  const probeMs = options.probeMs ?? 100;
  const child = spawn(process.execPath, ['-e', UNACCEPTING_CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(Number(text.trim()));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`fault kit: unaccepting listener exited (${code})`)));
  });
  child.stdout.destroy();
  const recorder = new FaultRecorder();
  const fillers: Socket[] = [];
  const stopChild = async (): Promise<void> => {
    for (const socket of fillers) socket.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  };
  recorder.onClose(stopChild);
  for (let attempt = 0; attempt < 64; attempt++) {
    const probe = connect(port, '127.0.0.1');
    probe.on('error', () => {});
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), probeMs);
      probe.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) {
      probe.destroy();
      return recorder.handle(`http://127.0.0.1:${port}`, port);
    }
    fillers.push(probe);
  }
  await stopChild();
  throw new Error('fault kit: could not fill the listen backlog; connect timeouts cannot be produced here');
}

// Listens with a backlog of 1, prints the port, then blocks its event loop so nothing is ever
// accepted; it checks every half second that its parent is alive and leaves when it is not.
const UNACCEPTING_CHILD = `
const net = require('node:net');
const fs = require('node:fs');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  fs.writeSync(1, server.address().port + '\\n');
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const parent = process.ppid;
  for (let i = 0; i < 1200; i++) {
    Atomics.wait(cell, 0, 0, 500);
    try { process.kill(parent, 0); } catch { break; }
  }
  process.exit(0);
});
`;
