import cluster, { type Worker } from 'node:cluster';
import { formatConfigProblems } from '../../core/config/config-error.ts';
import { configHash } from '../../core/config/config-hash.ts';
import type { AdminConfig, GatewayConfig } from '../../core/config/types.ts';
import { hostPort } from '../../core/net/host-port.ts';
import { renameGateway } from '../../observe/log/gateway-name.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { AdminServer } from '../admin/admin-server.ts';
import type { Canaries } from '../canary/canaries.ts';
import type { ClusterControl } from '../cluster/cluster-control.ts';
import type { GatewayWide } from '../cluster/gateway-wide.ts';
import { compileFor } from '../cluster/primary-compilers.ts';
import { countReload } from '../cluster/primary-counts.ts';
import { type FleetFollowing, followSource } from '../cluster/primary-fleet.ts';
import type { PrimaryOptions } from '../cluster/primary-options.ts';
import { isServing, isStartRefused } from '../gateway/ipc-protocol.ts';
import type { PrimaryAdmin } from './primary-admin.ts';
import { startLine } from './start-line.ts';

/** What the primary supervises with: what its reloads and its workers' news act on. */
export interface Supervised {
  readonly path: string;
  readonly config: GatewayConfig;
  readonly workers: number;
  readonly options: PrimaryOptions;
  readonly logger: Logger;
  readonly control: ClusterControl;
  readonly wide: GatewayWide;
  readonly canaries: Canaries;
  readonly admin: PrimaryAdmin;
  readonly fleet: FleetFollowing;
  /** GET /ready: the workers that listen. */
  readonly listening: Set<number>;
  /**
   * The canaries start once every worker serves: a split change sent to a worker still starting
   * would be lost, and its share would stay 0 while the controller believes it moved.
   */
  canariesStarted: boolean;
}

/** Turns SIGHUP into a reload, and applies each reload here; returns what stops listening. */
export function reloadOnSignals(s: Supervised): () => void {
  const { control, wide, canaries, admin, logger } = s;
  // A reload may move, add or remove the admin listener, or rotate its token. Once the answer
  // is on its way: the admin API's own reload must not close the listener under its caller.
  control.onSwapped = () => {
    compileFor(control.config);
    wide.configChanged(control.config);
    if (s.canariesStarted) canaries.sync(control.config);
    // The primary's own events (reloads, admin calls, health) follow the new log.level too.
    logger.level = control.config.log.level;
    renameGateway(logger, control.config.name);
    setImmediate(() =>
      admin.sync(control.config.admin).catch((err: Error) =>
        // A new admin address that cannot be bound leaves the API closed; the gateway goes on.
        logger.error({ err: err.message }, 'admin API could not move to its new address: it stays closed'),
      ),
    );
  };
  control.onReloaded = (result) => countReload(result === 'ok' ? 'success' : 'failure');
  const onHangup = () => void control.reload({ via: 'SIGHUP', who: 'signal' });
  process.on('SIGHUP', onHangup);
  // One that came while the gateway started (bin/candor.js kept it): its reload, now. A worker
  // forked meanwhile gets it too, kept with its start (worker-channel.ts).
  if (hangupWhileStarting()) onHangup();
  return () => process.off('SIGHUP', onHangup);
}

/**
 * Follows the workers as they serve and exit: the start once the first serves, readiness while
 * any listens, the canaries once all serve. Returns what stops following them.
 */
export function watchWorkers(s: Supervised): () => void {
  const { config, control, logger, listening, options } = s;
  // Once the first worker serves, with the ports really bound: the demo's banner, and the start
  // line (on stderr even when the log goes to a file, so whoever started it sees that it runs,
  // and which pid to signal).
  const onServing = (_worker: Worker, message: unknown) => {
    if (!isServing(message)) return;
    cluster.off('message', onServing);
    s.wide.serving();
    // A fleet's gateway follows its etcd key once it serves (a revision applied before a worker
    // listens would have no worker to swap), and writes its record under the key's prefix.
    if (options.fleet !== undefined)
      void followSource(options.fleet.start, message.ports, config, control, logger, s.fleet).catch(
        (err: Error) =>
          logger.error(
            { err: err.message },
            'the config source could not be followed: the running config stays',
          ),
      );
    announceStart(s, message.ports, s.admin.current);
  };
  // GET /ready: ready while some worker listens; none yet, or the last one dead and its
  // replacement not yet listening (its socket closed with it: connections are refused), not.
  const onListening = (worker: Worker, message: unknown) => {
    if (!isServing(message)) return;
    control.serving = listening.add(worker.id).size > 0;
    keepPortsOf(control, message.ports, logger);
  };
  const onExit = (worker: Worker) => {
    listening.delete(worker.id);
    control.serving = listening.size > 0;
  };
  let servingWorkers = 0;
  const startCanaries = (_worker: Worker, message: unknown) => {
    if (!isServing(message) || ++servingWorkers < s.workers) return;
    cluster.off('message', startCanaries);
    s.canariesStarted = true;
    s.canaries.sync(control.config);
  };
  const onRefused = tellStartRefusals(options);
  cluster.on('message', onServing);
  cluster.on('message', onListening);
  cluster.on('exit', onExit);
  cluster.on('message', startCanaries);
  cluster.on('message', onRefused);
  return () => {
    cluster.off('message', onRefused);
    cluster.off('message', onServing);
    cluster.off('message', onListening);
    cluster.off('exit', onExit);
    cluster.off('message', startCanaries);
  };
}

/**
 * The ports a worker that serves got for the listeners written on port 0, kept for the next
 * replacements (ClusterControl.announcedPorts). One that differs from the port announced (taken
 * by another program once every worker had died) is said: the listener moved.
 */
function keepPortsOf(control: ClusterControl, ports: readonly number[], logger: Logger): void {
  const listen = control.config.listen;
  if (ports.length !== listen.length) return;
  // Two unnamed listeners on port 0 share a name (the address as written): neither is kept.
  const shared = (name: string) => listen.filter((l) => l.name === name).length > 1;
  for (const [i, listener] of listen.entries()) {
    const port = ports[i];
    if (listener.port !== 0 || !(port > 0) || shared(listener.name)) continue;
    const was = control.announcedPorts[listener.name];
    if (was !== undefined && was !== port)
      logger.warn(
        { listener: listener.name, was: hostPort(listener.host, was), now: hostPort(listener.host, port) },
        'listener moved: the port it was given (port 0) was taken once every worker had died',
      );
    control.announcedPorts[listener.name] = port;
  }
}

/**
 * A worker's refusal to start, said once however many workers meet it (the same config), a
 * fleet's at the etcd key and the document's own line (options.fleet.place), not at the file the
 * gateway composed; another reason (a replacement worker's, later) is said when it comes.
 */
function tellStartRefusals(options: PrimaryOptions): (worker: Worker, message: unknown) => void {
  let said = '';
  return (_worker, message) => {
    if (!isStartRefused(message)) return;
    const place = options.fleet?.place;
    const why =
      message.problems === undefined
        ? message.message
        : formatConfigProblems(place === undefined ? message.problems : message.problems.map(place));
    if (why === said) return;
    said = why;
    process.stderr.write(`candor: could not start: ${why}\n`);
  };
}

/** The demo's banner and the start line, with the ports really bound. */
function announceStart(
  { path, config, workers, options }: Supervised,
  ports: readonly number[],
  admin: { readonly server: AdminServer; readonly config: AdminConfig } | undefined,
): void {
  const adminPort = admin?.server.port();
  options.announce?.({ gatewayPort: ports[0], ports, adminPort });
  process.stderr.write(
    startLine({
      pid: process.pid,
      configPath: path,
      configHash: configHash(config),
      workers,
      listening: config.listen.map((listener, i) => hostPort(listener.host, ports[i])),
      admin:
        admin === undefined || adminPort === undefined ? undefined : hostPort(admin.config.host, adminPort),
      pidFile: options.pidFile,
    }),
  );
}

/** Whether bin/candor.js kept a SIGHUP that came before the primary listened for one; it keeps no more. */
function hangupWhileStarting(): boolean {
  const key = Symbol.for('candor.hangup-while-starting');
  const early = (process as unknown as Record<symbol, { hangup: boolean; stop(): void } | undefined>)[key];
  early?.stop();
  return early?.hangup === true;
}
