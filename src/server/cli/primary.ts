import cluster, { type Worker } from 'node:cluster';
import { readAdminTokenSource } from '../../core/config/admin-checks.ts';
import { configHash } from '../../core/config/config-hash.ts';
import type { AdminConfig, GatewayConfig } from '../../core/config/types.ts';
import { spoolShareTooSmall } from '../../core/limits/spool-share.ts';
import { reopenLogFiles } from '../../observe/log/log-writers.ts';
import type { RenderMetrics } from '../../observe/metrics/exposition.ts';
import type { AdminRoute, AdminServer } from '../admin/admin-server.ts';
import { ClusterControl } from '../admin/cluster-control.ts';
import { Canaries } from '../canary/canaries.ts';
import { timelineStep } from '../canary/canary-event.ts';
import type { FleetCanary } from '../fleet/fleet-canary.ts';
import type { FleetSource, FleetStart } from '../fleet/fleet-source.ts';
import { trimWhenIdle } from '../gateway/idle-trim.ts';
import { isServing } from '../gateway/ipc-protocol.ts';
import { EXIT } from './exit-codes.ts';
import { GatewayWide } from './gateway-wide.ts';
import { type PidFile, writePidFile } from './pid-file.ts';
import { compileFor } from './primary-compilers.ts';
import { createPrimaryLogger } from './primary-log.ts';
import { startLine } from './start-line.ts';
import { superviseWorkers } from './workers.ts';

export interface PrimaryOptions {
  /** The demo's banner, once the first worker listens. */
  readonly announce?: (where: {
    gatewayPort: number;
    /** Every listener's bound port, in the config's order. */
    ports: readonly number[];
    adminPort: number | undefined;
  }) => void;
  /** `--pid-file`: where to write this process's pid while it runs. */
  readonly pidFile?: string;
  /** A fleet's gateway: the etcd source it started on (serve-fleet.ts), followed from there. */
  readonly fleet?: { readonly start: FleetStart; readonly notes: readonly string[] };
}

/**
 * The cluster primary of `candor serve`: it supervises the workers, holds the config in force
 * (validated here, sent to each worker), serves the admin API (it alone sees every worker),
 * and turns SIGHUP into a reload. It never runs the data path.
 */
export async function runPrimary(
  path: string,
  config: GatewayConfig,
  workers: number,
  options: PrimaryOptions = {},
): Promise<number> {
  let pidFile: PidFile | undefined;
  if (options.pidFile !== undefined) {
    try {
      pidFile = writePidFile(options.pidFile);
    } catch (err) {
      process.stderr.write(
        `candor: could not write the pid file ${options.pidFile}: ${(err as Error).message}\n`,
      );
      return EXIT.unavailable;
    }
  }
  try {
    return await supervise(path, config, workers, options);
  } finally {
    pidFile?.remove();
  }
}

async function supervise(
  path: string,
  config: GatewayConfig,
  workers: number,
  options: PrimaryOptions,
): Promise<number> {
  compileFor(config);
  const logger = createPrimaryLogger(config.log, config.name);
  // `candor check` could only guess the worker count (worker-share.ts splits max_total by it).
  const spool = spoolShareTooSmall(config.limits.spool.maxTotal, workers);
  if (spool !== undefined) logger.warn({ field: 'limits.spool.max_total', workers }, spool);
  const control = new ClusterControl(path, config, logger);
  // Health checks run here, once for the gateway; split limits and the workers' news too.
  let wide: GatewayWide;
  try {
    wide = await GatewayWide.start(config, workers, logger, control.timeline);
  } catch (err) {
    // A store automatic HTTPS cannot keep its files in: its field and folder, not a stack trace.
    // (Imported here: only a config with `acme` loads the ACME modules, and this one threw.)
    const { AcmeStorageError } = await import('../acme/acme-store.ts');
    if (!(err instanceof AcmeStorageError)) throw err;
    process.stderr.write(`candor: could not start: ${err.message}\n`);
    return EXIT.unavailable;
  }
  control.startWith = (worker) => wide.startOf(worker);
  control.onChanged = (changes) => wide.changesChanged(changes);
  control.withDiscovered = (found) => wide.withDiscovered(found);
  control.certificates = () => wide.certificates();
  let admin: { server: AdminServer; config: AdminConfig } | undefined;
  // Every worker's metrics, merged: prom-client (and what it loads) comes with the first
  // scrape, not with every primary, most of which are never scraped.
  let renderMerged: RenderMetrics | undefined;
  const renderClusterMetrics: RenderMetrics = async () => {
    renderMerged ??= (await import('../../observe/metrics/cluster.ts')).clusterMetrics(
      (worker) => listening.has(worker.id),
      () => source?.gauges() ?? [],
    );
    return renderMerged();
  };
  // The canaries are judged here, once for the gateway, on every worker's counts merged.
  // With store.redis, the fleet's gateways share each canary's counts and one verdict (the
  // fleet opened and closed with the configs that need it: canaries.ts).
  const canaries = new Canaries({
    window: (route) => control.canaryWindow(route),
    async setSides(route, sides, verdict) {
      const applied = await control.change(
        { kind: 'split', route, sides, ...(verdict === undefined ? {} : { verdict }) },
        { via: 'canary', who: `canary of ${route}` },
      );
      // Refused (a reload took the route's split away while a step was judged): the controller
      // must not take the weights for set, as the in-process gateway's host throws alike.
      if ('problem' in applied) throw new Error(`${applied.problem.field}: ${applied.problem.detail}`);
    },
    logger,
    // Each step and action on the deploy timeline (GET /events, the status page, explain).
    onEvent: (event) => {
      const step = timelineStep(event);
      if (step !== undefined) control.timeline.canary(step);
    },
  });
  // The admin API's routes, made with its first listener: a primary that serves none never
  // loads its endpoints nor reads the status page's files.
  let routes: AdminRoute[] | undefined;

  /** Starts, moves or stops the admin listener to match the config in force; the token is read again. */
  const syncAdmin = async (wanted: AdminConfig | undefined): Promise<void> => {
    if (admin && (wanted === undefined || wanted.address !== admin.config.address)) {
      await admin.server.close();
      logger.info({ admin: admin.config.address }, 'admin API closed');
      admin = undefined;
    }
    if (wanted === undefined) return;
    const token = readAdminTokenSource(wanted.token, process.env);
    if ('problem' in token) {
      // The config check read it a moment ago; a file removed since leaves the API shut.
      logger.error({ problem: token.problem }, 'admin API has no token: it stays closed');
      if (admin) await admin.server.close();
      admin = undefined;
      return;
    }
    if (admin) {
      admin.server.setToken(token.token);
      admin.server.setAllowedHosts(wanted.allowedHosts);
      admin.config = wanted;
      return;
    }
    // Loaded here, not with the primary: node:http alone is about 17 MB of a process's
    // memory, and most primaries serve no admin API.
    const [{ startAdminServer }, { adminEndpoints, metricsRoute }, { statusPageRoutes }] = await Promise.all([
      import('../admin/admin-server.ts'),
      import('../admin/endpoints.ts'),
      import('../admin/status-page.ts'),
    ]);
    routes ??= [
      ...adminEndpoints(control, canaries),
      metricsRoute(renderClusterMetrics),
      ...statusPageRoutes(),
    ];
    const server = await startAdminServer({
      host: wanted.host,
      port: wanted.port,
      token: token.token,
      allowedHosts: wanted.allowedHosts,
      routes,
      logger,
    });
    admin = { server, config: wanted };
    const loopback =
      wanted.host === 'localhost' ||
      (process.getBuiltinModule('node:net').isIP(wanted.host) !== 0 && /^(127\.|::1$)/.test(wanted.host));
    if (loopback) logger.info({ admin: `${wanted.host}:${server.port()}` }, 'admin API listening');
    else
      logger.warn(
        { admin: `${wanted.host}:${server.port()}` },
        'admin API listening beyond loopback: anyone who reaches this address and holds the token controls the gateway',
      );
  };

  try {
    await syncAdmin(config.admin);
  } catch (err) {
    process.stderr.write(`candor: could not start the admin API: ${(err as Error).message}\n`);
    return EXIT.unavailable;
  }
  // A reload may move, add or remove the admin listener, or rotate its token. Once the answer
  // is on its way: the admin API's own reload must not close the listener under its caller.
  control.onSwapped = () => {
    compileFor(control.config);
    wide.configChanged(control.config);
    if (canariesStarted) canaries.sync(control.config);
    // The primary's own events (reloads, admin calls, health) follow the new log.level too.
    logger.level = control.config.log.level;
    setImmediate(() =>
      syncAdmin(control.config.admin).catch((err: Error) =>
        // A new admin address that cannot be bound leaves the API closed; the gateway goes on.
        logger.error({ err: err.message }, 'admin API could not move to its new address: it stays closed'),
      ),
    );
  };
  control.onReloaded = (result) => wide.reloadCounted(result === 'ok' ? 'success' : 'failure');
  const onHangup = () => void control.reload({ via: 'SIGHUP', who: 'signal' });
  process.on('SIGHUP', onHangup);
  // One that came while the gateway started (bin/candor.js kept it): its reload, now. A worker
  // forked meanwhile gets it too, kept with its start (worker-channel.ts).
  if (hangupWhileStarting()) onHangup();
  // GET /metrics: every worker's counts, merged, on the config's own metrics listener (and on
  // the admin API, behind its token).
  let metricsListener: { close(): Promise<void> } | undefined;
  if (config.metrics !== undefined) {
    try {
      const [{ startMetricsListener }, { createHostCheck }] = await Promise.all([
        import('../../observe/metrics/metrics-listener.ts'),
        import('../gateway/host-check.ts'),
      ]);
      metricsListener = await startMetricsListener(
        config.metrics,
        renderClusterMetrics,
        createHostCheck(config.metrics.host, config.metrics.allowedHosts),
      );
    } catch (err) {
      process.stderr.write(
        `candor: could not serve metrics on ${config.metrics.address}: ${(err as Error).message}\n`,
      );
      await admin?.server.close();
      return EXIT.unavailable;
    }
  }
  // The demo's banner: printed once the first worker listens, with the ports really bound.
  const { announce } = options;
  // Once the first worker serves, with the ports really bound: the demo's banner, and the start
  // line (on stderr even when the log goes to a file, so whoever started it sees that it runs,
  // and which pid to signal).
  const onServing = (_worker: Worker, message: unknown) => {
    if (!isServing(message)) return;
    cluster.off('message', onServing);
    wide.serving();
    if (options.fleet !== undefined)
      void followSource(options.fleet.start, message.ports).catch((err: Error) =>
        logger.error(
          { err: err.message },
          'the config source could not be followed: the running config stays',
        ),
      );
    const adminPort = admin?.server.port();
    announce?.({ gatewayPort: message.ports[0], ports: message.ports, adminPort });
    const bracket = (host: string) => (host.includes(':') ? `[${host}]` : host);
    process.stderr.write(
      startLine({
        pid: process.pid,
        configPath: path,
        configHash: configHash(config),
        workers,
        listening: config.listen.map((listener, i) => `${bracket(listener.host)}:${message.ports[i]}`),
        admin:
          admin === undefined || adminPort === undefined
            ? undefined
            : `${bracket(admin.config.host)}:${adminPort}`,
        pidFile: options.pidFile,
      }),
    );
  };
  cluster.on('message', onServing);
  // A fleet's gateway follows its etcd key once it serves (a revision applied before a worker
  // listens would have no worker to swap), and writes its record under the key's prefix.
  let source: FleetSource | undefined;
  let fleetCanary: FleetCanary | undefined;
  for (const note of options.fleet?.notes ?? [])
    logger.warn({ source: options.fleet?.start.bootstrap.etcd.key }, note);
  const followSource = async (start: FleetStart, ports: readonly number[]) => {
    const [{ FleetSource }, { fleetStatus }, { FleetCanary }] = await Promise.all([
      import('../fleet/fleet-source.ts'),
      import('../fleet/fleet-status.ts'),
      import('../fleet/fleet-canary.ts'),
    ]);
    const address = config.listen
      .map((l, i) => `${l.host.includes(':') ? `[${l.host}]` : l.host}:${ports[i]}`)
      .join(' ');
    source = new FleetSource(
      start,
      configHash(config),
      address,
      (pushed) =>
        control.reload({ via: 'etcd', who: `etcd revision ${pushed.revision} by ${pushed.author}`, pushed }),
      logger,
    );
    control.configSource = () => source?.status();
    control.fleet = () => fleetStatus(start.client, start.bootstrap.etcd.key);
    source.start();
    // A config canary (candor config push --canary): taken here if this gateway is one of it,
    // counted on every gateway, judged by one of them.
    fleetCanary = new FleetCanary(
      source,
      start.client,
      start.bootstrap.etcd.key,
      start.bootstrap.name,
      () => control.gatewayCounts(),
      logger,
    );
    fleetCanary.start();
  };
  // GET /ready: ready while some worker listens; none yet, or the last one dead and its
  // replacement not yet listening (its socket closed with it: connections are refused), not.
  const listening = new Set<number>();
  const onListening = (worker: Worker, message: unknown) => {
    if (isServing(message)) control.serving = listening.add(worker.id).size > 0;
  };
  const onExit = (worker: Worker) => {
    listening.delete(worker.id);
    control.serving = listening.size > 0;
  };
  cluster.on('message', onListening);
  cluster.on('exit', onExit);
  // The canaries start once every worker serves: a split change sent to a worker still starting
  // would be lost, and its share would stay 0 while the controller believes it moved.
  let canariesStarted = false;
  let servingWorkers = 0;
  const startCanaries = (_worker: Worker, message: unknown) => {
    if (!isServing(message) || ++servingWorkers < workers) return;
    cluster.off('message', startCanaries);
    canariesStarted = true;
    canaries.sync(control.config);
  };
  // What starting (the modules, the forks) or a burst of admin calls and scrapes grew is given
  // back once it is over: supervising needs little of it.
  const stopTrimming = trimWhenIdle();
  cluster.on('message', startCanaries);
  const code = await superviseWorkers(workers, {
    drainTimeout: () => control.config.drain.timeout,
    onFork: (worker) => control.start(worker),
    onDrain: () => {
      control.draining = true;
    },
    onReopenLogs: () => reopenLogFiles(logger),
    logger,
  });
  stopTrimming();
  process.off('SIGHUP', onHangup);
  cluster.off('message', onServing);
  cluster.off('message', onListening);
  cluster.off('exit', onExit);
  cluster.off('message', startCanaries);
  canaries.close();
  fleetCanary?.stop();
  await source?.stop();
  await wide.stop();
  await metricsListener?.close();
  await admin?.server.close();
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  return code;
}

/** Whether bin/candor.js kept a SIGHUP that came before the primary listened for one; it keeps no more. */
function hangupWhileStarting(): boolean {
  const key = Symbol.for('candor.hangup-while-starting');
  const early = (process as unknown as Record<symbol, { hangup: boolean; stop(): void } | undefined>)[key];
  early?.stop();
  return early?.hangup === true;
}
