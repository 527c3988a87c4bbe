import { hostPort } from './host-port.ts';
import { listeningInodes } from './socket-tables.ts';

// node:fs and node:net through process.getBuiltinModule, not imports: as ES modules they
// load fs/promises, streams, readline, BlockList and SocketAddress as well, about 1 MiB of the
// primary's memory (test/server/cli/lean-processes.test.ts).
const fs = process.getBuiltinModule('node:fs');
const net = process.getBuiltinModule('node:net');

/** An address another process holds: what `listen` said, and who holds it where that can be told. */
export interface AddressTaken {
  /** host:port as configured. */
  readonly address: string;
  /** The error's code: EADDRINUSE; EACCES for a privileged port (or a security policy); EADDRNOTAVAIL for an address no interface has. */
  readonly code: string;
  /** "pid 4242 (node candor.js serve …), a worker of pid 4200", when /proc tells it. */
  readonly holder: string | undefined;
  /** The holder's pid and its parent's, when /proc tells them: whether the holder is this gateway. */
  readonly holderPid?: number;
  readonly holderParent?: number;
}

/** How much of a holder's command line a message shows. */
const MAX_COMMAND_CHARS = 120;

/**
 * Whether host:port can be had by this process alone: a plain listen, without SO_REUSEPORT,
 * which fails if any socket holds the address, whoever's it is. The workers of `candor serve`
 * bind their sockets with SO_REUSEPORT, which the kernel lets any process of the same user
 * share: without this probe, a second gateway on the same address would silently take part of
 * the first one's connections. The probe's socket is closed before it returns (the workers
 * could not share the port with a socket lacking SO_REUSEPORT): until they listen, a process
 * that binds the address wins it, and the workers fail to start on it instead.
 */
export async function probeAddress(host: string, port: number): Promise<AddressTaken | undefined> {
  const server = net.createServer();
  const failed = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    server.once('error', (err) => resolve(err));
    // exclusive: a cluster worker's listen would otherwise ask the primary for a shared handle.
    server.listen({ host, port, exclusive: true, backlog: 1 }, () => resolve(undefined));
  });
  if (failed === undefined) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return undefined;
  }
  const code = failed.code ?? 'error';
  const holder = code === 'EADDRINUSE' ? holderOf(port) : undefined;
  return { address: hostPort(host, port), code, ...(holder ?? { holder: undefined }) };
}

/** The process holding a listening TCP socket on `port`, from /proc (Linux; another user's processes cannot be read). */
function holderOf(port: number): { holder: string; holderPid: number; holderParent?: number } | undefined {
  // Inode 0: a socket no process holds any more.
  const inodes = new Set(
    (listeningInodes(port) ?? []).filter((inode) => inode !== '0').map((inode) => `socket:[${inode}]`),
  );
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) {
          const parent = parentOf(pid);
          return {
            holder: describe(pid, parent),
            holderPid: Number(pid),
            ...(parent === undefined ? {} : { holderParent: Number(parent) }),
          };
        }
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return undefined;
}

function parentOf(pid: string): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
  } catch {
    return undefined;
  }
}

function describe(pid: string, parent: string | undefined): string {
  let text = `pid ${pid}`;
  try {
    const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    if (command !== '')
      text += ` (${command.length > MAX_COMMAND_CHARS ? `${command.slice(0, MAX_COMMAND_CHARS)}…` : command})`;
    if (parent === undefined) return text;
    // A cluster's worker (the same program as its parent): the primary is the process to stop.
    if (fs.readlinkSync(`/proc/${parent}/exe`) === fs.readlinkSync(`/proc/${pid}/exe`))
      text += `, a worker of pid ${parent}`;
  } catch {
    // Gone meanwhile: the pid alone.
  }
  return text;
}

/** What refuses an address: "cannot listen on 127.0.0.1:8080: address in use (EADDRINUSE) by pid 4242 (…); stop it first…". */
export function addressTakenMessage(taken: AddressTaken, gateway: number = process.pid): string {
  if (taken.code === 'EACCES')
    return `cannot listen on ${taken.address}: permission denied (EACCES): ${forbidden(taken)}`;
  if (taken.code === 'EADDRNOTAVAIL')
    return `cannot listen on ${taken.address}: no interface of this machine has that address (EADDRNOTAVAIL); listen on one it has, or on 0.0.0.0`;
  if (taken.code !== 'EADDRINUSE') return `cannot listen on ${taken.address} (${taken.code})`;
  // The gateway's own socket (a reload's new address overlaps one it holds on the same port: the
  // wildcard 0.0.0.0 or :: beside a host address): "stop it first" would tell the operator to
  // stop the gateway itself. Its old listener serves until the new one opens, so a restart moves it.
  if (taken.holderPid === gateway || taken.holderParent === gateway)
    return `cannot listen on ${taken.address}: this gateway holds its port on another address (${taken.holder}): a reload opens a new listener before it closes the old one, and the two overlap (on one port: the wildcard 0.0.0.0 or :: beside a host address, or one address written two ways, localhost and 127.0.0.1); restart the gateway to move it, or listen on another port`;
  const by = taken.holder === undefined ? 'another process' : taken.holder;
  return `cannot listen on ${taken.address}: address in use (EADDRINUSE) by ${by}; stop it first, or listen on another address`;
}

/** Why a listen was forbidden (EACCES): a privileged port (Linux's bound, 1024 by default), else a security policy. */
function forbidden(taken: AddressTaken): string {
  const port = Number(taken.address.slice(taken.address.lastIndexOf(':') + 1));
  let start = 1024;
  try {
    start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    // Not Linux, or no /proc: the traditional bound.
  }
  return port < start
    ? `a port below ${start} needs root or the CAP_NET_BIND_SERVICE capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE); or listen on a port from ${start} up`
    : 'a security policy (SELinux, AppArmor, seccomp) forbids this process the address';
}
