import { type Listener, type RequestHandlers, startListener } from '../accept/listener.ts';
import type { GatewayConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { GatewayMetrics } from '../metrics/metrics.ts';
import { type MetricsListener, startMetricsListener } from '../metrics/metrics-listener.ts';
import { RequestSession } from '../session/request-session.ts';
import type { Runtime } from '../session/runtime.ts';
import { Drain } from './drain.ts';
import { createRuntime } from './runtime.ts';

export interface Gateway {
  readonly listeners: readonly Listener[];
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** The port GET /metrics is served on (config `metrics.listen`), when this process serves it. */
  metricsPort(): number | undefined;
  /** The live config snapshot. */
  runtime(): Runtime;
  /** Stops accepting, lets in-flight requests finish, closes upstream pools and flushes the log. */
  close(): Promise<void>;
  /** True from the moment a drain begins: the gateway is no longer ready for new traffic. */
  readonly draining: boolean;
  /**
   * SIGTERM's drain (drain.ts): not ready, `drain.delay`, stop accepting, cut what is still
   * open at `drain.timeout`; then the upstream pools close and the log is flushed.
   */
  drain(): Promise<void>;
  /** A second SIGTERM or SIGINT: the drain (started if it was not) cuts every connection now. */
  drainNow(): Promise<void>;
}

export interface GatewayOptions {
  /** Use this logger instead of the one the config describes (tests capture lines this way). */
  readonly logger?: Logger;
  /**
   * Serve `metrics.listen` from this process (the default). A cluster worker does not: the
   * primary serves every worker's metrics, merged.
   */
  readonly serveMetrics?: boolean;
}

/** Starts a gateway on a validated config: its runtime, then every listener. */
export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.log, config.name);
  const metrics = new GatewayMetrics();
  const runtime = createRuntime(config, logger, metrics);
  const current = () => runtime;
  // The listeners hand every request to a session on the runtime live at that moment: a
  // reload swaps the runtime for new requests only.
  const handlers: RequestHandlers = {
    request: (req, res, listener) => RequestSession.request(current(), listener, req, res),
    upgrade: (req, socket, head, listener) => RequestSession.upgrade(current(), listener, req, socket, head),
    refused: (socket, failure, info) => RequestSession.refused(current(), socket, failure, info),
    limits: () => current().config.limits,
  };
  const listeners: Listener[] = [];
  let metricsListener: MetricsListener | undefined;
  try {
    for (const listen of config.listen) listeners.push(await startListener(listen, handlers));
    if (config.metrics !== undefined && options.serveMetrics !== false)
      metricsListener = await startMetricsListener(config.metrics, () => metrics.exposition());
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await runtime.close();
    throw err;
  }
  metrics.configLoaded(config);
  metrics.watch({
    upstreams: () => current().upstreams.values(),
    listeners: () =>
      listeners.map((listener) => ({
        address: listener.config.address,
        connections: () =>
          new Promise<number>((resolve) => listener.server.getConnections((_, count) => resolve(count ?? 0))),
      })),
  });
  for (const listener of listeners) {
    logger.info(
      { address: `${listener.config.host}:${listener.port()}`, tls: Boolean(listener.config.tls) },
      'listening',
    );
  }
  if (metricsListener !== undefined)
    logger.info({ address: `${config.metrics?.host}:${metricsListener.port()}` }, 'serving metrics');
  const flushed = () => new Promise<void>((resolve) => logger.flush(() => resolve()));
  const drain = new Drain(listeners, config.drain, logger);
  let drained: Promise<void> | undefined;
  const drainGateway = () => {
    drained ??= drain.run().then(async () => {
      await metricsListener?.close();
      await runtime.close();
      await flushed();
    });
    return drained;
  };
  return {
    listeners,
    logger,
    metrics,
    metricsPort: () => metricsListener?.port(),
    runtime: current,
    async close() {
      await Promise.all([...listeners.map((l) => l.close()), metricsListener?.close()]);
      await runtime.close();
      await flushed();
    },
    get draining() {
      return drain.started;
    },
    drain: drainGateway,
    drainNow() {
      drain.now();
      return drainGateway();
    },
  };
}
