import { type ConfigProblem, formatConfigProblem } from '../../core/config/config-error.ts';
import { fieldPosition } from '../../core/config/field-lines.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import {
  connectionsPastOpenFiles,
  OPEN_FILES_TOO_FEW,
  openFileLimit,
} from '../../core/limits/open-file-limit.ts';
import { spoolShareTooSmall } from '../../core/limits/spool-share.ts';
import { reopenLogFiles } from '../../observe/log/log-writers.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { PrimaryFamily } from '../../observe/metrics/cluster.ts';
import type { RenderMetrics } from '../../observe/metrics/exposition.ts';
import { traceExportTimeoutMs } from '../../observe/tracing/export-timeout.ts';
import { Canaries } from '../canary/canaries.ts';
import { timelineStep } from '../canary/canary-event.ts';
import { logCertificateDates } from '../cluster/certificate-date-log.ts';
import { ClusterControl } from '../cluster/cluster-control.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { GatewayWide } from '../cluster/gateway-wide.ts';
import { compileFor } from '../cluster/primary-compilers.ts';
import { acmeOrders, canaryVerdicts, configReloads, countCanaryVerdict } from '../cluster/primary-counts.ts';
import type { FleetFollowing } from '../cluster/primary-fleet.ts';
import { createPrimaryLogger } from '../cluster/primary-log.ts';
import type { PrimaryOptions } from '../cluster/primary-options.ts';
import { workerExits } from '../cluster/worker-exits.ts';
import { superviseWorkers } from '../cluster/workers.ts';
import { trimWhenIdle } from '../gateway/idle-trim.ts';
import { type PidFile, writePidFile } from './pid-file.ts';
import { PrimaryAdmin } from './primary-admin.ts';
import { reloadOnSignals, type Supervised, watchWorkers } from './primary-events.ts';

export type { PrimaryOptions } from '../cluster/primary-options.ts';

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
  const pastOpenFiles = connectionsPastOpenFiles(config.listen, workers, openFileLimit());
  if (pastOpenFiles !== undefined) logger.warn(pastOpenFiles, OPEN_FILES_TOO_FEW);
  // A certificate or revocation list every peer refuses for its dates (candor check's warnings).
  await logCertificateDates(config, logger);
  const control = new ClusterControl(path, config, logger);
  const wide = await startGatewayWide(path, config, workers, logger, control);
  if (wide === undefined) return EXIT.unavailable;
  // The workers that listen (GET /ready), and what a fleet's gateway follows once one serves.
  const listening = new Set<number>();
  const fleet: FleetFollowing = {};
  const renderClusterMetrics = mergedMetrics(listening, () => [
    ...(fleet.source?.gauges() ?? []),
    workerExits(),
    canaryVerdicts(),
    configReloads(),
    acmeOrders(),
  ]);
  const canaries = gatewayCanaries(control, logger);
  const admin = new PrimaryAdmin(control, canaries, renderClusterMetrics, logger);
  try {
    await admin.sync(config.admin);
  } catch (err) {
    process.stderr.write(`candor: could not start the admin API: ${(err as Error).message}\n`);
    return EXIT.unavailable;
  }
  const supervised: Supervised = {
    path,
    config,
    workers,
    options,
    logger,
    control,
    wide,
    canaries,
    admin,
    fleet,
    listening,
    canariesStarted: false,
  };
  const stopReloading = reloadOnSignals(supervised);
  const metricsListener = await serveMetrics(path, config, renderClusterMetrics, logger);
  if (metricsListener === 'failed') {
    await admin.close();
    return EXIT.unavailable;
  }
  // etcd's revision refused at the start: its problems on the log's line too (key, revision,
  // line, field), not only on stderr, which a supervisor may keep apart from the log.
  const refusedAtStart = options.fleet?.start.refused?.problems.map(formatConfigProblem);
  for (const note of options.fleet?.notes ?? [])
    logger.warn(
      {
        source: options.fleet?.start.bootstrap.etcd.key,
        ...(refusedAtStart === undefined ? {} : { problems: refusedAtStart }),
      },
      note,
    );
  const stopWatching = watchWorkers(supervised);
  // What starting (the modules, the forks) or a burst of admin calls and scrapes grew is given
  // back once it is over: supervising needs little of it.
  const stopTrimming = trimWhenIdle();
  const code = await superviseWorkers(workers, {
    drainTimeout: () => control.config.drain.timeout,
    // A worker's close waits for its last trace exports after its drain (a reload never changes `tracing`).
    closeAfterDrain: () => (control.config.tracing === undefined ? 0 : traceExportTimeoutMs()),
    onFork: (worker) => control.start(worker),
    onDrain: () => {
      control.draining = true;
      // A gateway that stops leaves the fleet at once (its lease revoked), not once its drain
      // ends: no longer listed as live (BEHIND after the next push, which it refuses while
      // draining), nor taken for a canary's gateway. The stops below then find it done.
      fleet.canary?.stop();
      void fleet.source?.stop();
    },
    onReopenLogs: () => reopenLogFiles(logger),
    onRestarting: (waiting) => {
      control.restarting = waiting;
    },
    // Its death cut what it held: on the deploy timeline (GET /events, the status page, explain).
    onDied: (died) => control.timeline.record({ kind: 'worker', ...died }),
    logger,
  });
  stopTrimming();
  stopReloading();
  stopWatching();
  canaries.close();
  fleet.canary?.stop();
  await fleet.source?.stop();
  await wide.stop();
  await metricsListener?.close();
  await admin.close();
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  return code;
}

/**
 * Health checks run here, once for the gateway; split limits and the workers' news too.
 * Undefined (the reason written) when it cannot start.
 */
async function startGatewayWide(
  path: string,
  config: GatewayConfig,
  workers: number,
  logger: Logger,
  control: ClusterControl,
): Promise<GatewayWide | undefined> {
  let wide: GatewayWide;
  try {
    wide = await GatewayWide.start(config, workers, logger, control.timeline);
  } catch (err) {
    // A store automatic HTTPS cannot keep its files in: its field and folder, not a stack trace.
    // (Imported here: only a config with `acme` loads the ACME modules, and this one threw.)
    const { AcmeStorageError } = await import('../acme/acme-store.ts');
    if (!(err instanceof AcmeStorageError)) throw err;
    process.stderr.write(
      `candor: could not start: ${formatConfigProblem(storageProblem(path, config, err))}\n`,
    );
    return undefined;
  }
  control.startWith = (worker) => wide.startOf(worker);
  control.onChanged = (changes) => wide.changesChanged(changes);
  control.withDiscovered = (found) => wide.withDiscovered(found);
  control.certificates = () => wide.certificates();
  return wide;
}

/**
 * The store's refusal at the field that chose its folder, as `candor check` says a folder it
 * cannot write: `acme.storage` (or `acme`, the storage left to its default), else the listener
 * that orders.
 */
function storageProblem(file: string, config: GatewayConfig, err: { reason: string }): ConfigProblem {
  const ordering = config.listen.findIndex((listener) => listener.tls?.acme !== undefined);
  const written = fieldPosition(config, 'acme.storage');
  if (written.line > 0 || ordering < 0)
    return { file, ...written, path: 'acme.storage', message: err.reason };
  const path = `listen[${ordering}].tls.acme`;
  return { file, ...fieldPosition(config, path), path, message: `acme.storage: ${err.reason}` };
}

/**
 * Every worker's metrics, merged: prom-client (and what it loads) comes with the first
 * scrape, not with every primary, most of which are never scraped.
 */
function mergedMetrics(listening: ReadonlySet<number>, own: () => readonly PrimaryFamily[]): RenderMetrics {
  let renderMerged: RenderMetrics | undefined;
  return async () => {
    renderMerged ??= (await import('../../observe/metrics/cluster.ts')).clusterMetrics(
      (worker) => listening.has(worker.id),
      own,
    );
    return renderMerged();
  };
}

/**
 * The canaries are judged here, once for the gateway, on every worker's counts merged.
 * With store.redis, the fleet's gateways share each canary's counts and one verdict (the
 * fleet opened and closed with the configs that need it: canaries.ts).
 */
function gatewayCanaries(control: ClusterControl, logger: Logger): Canaries {
  return new Canaries({
    window: (route) => control.canaryWindow(route),
    async setSides(route, sides, verdict) {
      const applied = await control.change(
        { kind: 'split', route, sides, ...(verdict === undefined ? {} : { verdict }) },
        { via: 'canary', who: `canary of ${route}` },
      );
      // Refused (a reload took the route's split away while a step was judged): the controller
      // must not take the weights for set, as the in-process gateway's host throws alike.
      if ('problem' in applied) throw new Error(`${applied.problem.field}: ${applied.problem.detail}`);
      if (verdict !== undefined) countCanaryVerdict(route, verdict);
    },
    logger,
    // Each step and action on the deploy timeline (GET /events, the status page, explain).
    onEvent: (event) => {
      const step = timelineStep(event);
      if (step !== undefined) control.timeline.canary(step);
    },
  });
}

/**
 * GET /metrics: every worker's counts, merged, on the config's own metrics listener (and on
 * the admin API, behind its token). Undefined when the config serves none; 'failed' (the
 * reason written) when it cannot listen.
 */
async function serveMetrics(
  path: string,
  config: GatewayConfig,
  render: RenderMetrics,
  logger: Logger,
): Promise<{ close(): Promise<void> } | undefined | 'failed'> {
  if (config.metrics === undefined) return undefined;
  try {
    const [{ startMetricsListener, metricsPipelineClosed }, { createHostCheck }] = await Promise.all([
      import('../../observe/metrics/metrics-listener.ts'),
      import('../gateway/host-check.ts'),
    ]);
    return await startMetricsListener(
      config.metrics,
      render,
      createHostCheck(config.metrics.host, config.metrics.allowedHosts),
      metricsPipelineClosed(logger),
    );
  } catch (err) {
    // At its field, as an address the probe found taken is said (metrics.listen is not probed
    // before the start: only the primary listens there, without SO_REUSEPORT, so its own listen
    // fails as the probe would). Who holds it is asked after the fact.
    const { host, port, address } = config.metrics;
    const { addressTakenMessage, probeAddress } = await import('../../core/net/address-probe.ts');
    const taken = await probeAddress(host, port);
    const message =
      taken === undefined
        ? `cannot listen on ${address}: ${(err as Error).message}`
        : addressTakenMessage(taken);
    const at = { file: path, ...fieldPosition(config, 'metrics.listen'), path: 'metrics.listen', message };
    process.stderr.write(`candor: could not start: ${formatConfigProblem(at)}\n`);
    return 'failed';
  }
}
