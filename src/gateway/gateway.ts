import { type Listener, type RequestHandlers, startListener } from '../accept/listener.ts';
import type { GatewayConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { RequestSession } from '../session/request-session.ts';
import type { Runtime } from '../session/runtime.ts';
import { createRuntime } from './runtime.ts';

export interface Gateway {
  readonly listeners: readonly Listener[];
  readonly logger: Logger;
  /** The live config snapshot. */
  runtime(): Runtime;
  /** Stops accepting, lets in-flight requests finish, closes upstream pools, exports the last spans and flushes the log. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Use this logger instead of the one the config describes (tests capture lines this way). */
  readonly logger?: Logger;
}

/** Starts a gateway on a validated config: its runtime, then every listener. */
export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.log, config.name);
  // The SDK is loaded only when tracing is on. The provider is the gateway's, made from the
  // config it starts with, and flushed by close().
  const tracing =
    config.tracing === undefined
      ? undefined
      : (await import('../tracing/provider.ts')).startTracing(config.tracing, logger);
  const runtime = createRuntime(config, logger, tracing);
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
  try {
    for (const listen of config.listen) listeners.push(await startListener(listen, handlers));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await runtime.close();
    await tracing?.shutdown();
    throw err;
  }
  for (const listener of listeners) {
    logger.info(
      { address: `${listener.config.host}:${listener.port()}`, tls: Boolean(listener.config.tls) },
      'listening',
    );
  }
  return {
    listeners,
    logger,
    runtime: current,
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
      await runtime.close();
      await tracing?.shutdown();
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    },
  };
}
