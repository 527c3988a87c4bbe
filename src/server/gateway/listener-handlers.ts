/**
 * What the listeners call: the handlers the composition root wires them to. Every request goes
 * to a session on the runtime live at that moment (a reload swaps the runtime for new requests
 * only; a request keeps the one it began with), except the probes of `admin.probes_path`, which
 * the gateway answers itself; what the listeners refuse or drop is logged and counted here.
 */

import { REASONS } from '../../core/failure/wording.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import { ClientLimits } from '../../proxy/accept/client-limits.ts';
import type { RequestHandlers } from '../../proxy/accept/request-handlers.ts';
import { RequestSession } from '../../proxy/session/request-session.ts';
import type { Runtime } from '../../proxy/session/runtime.ts';
import { probeAnswer, probeFor } from './probes.ts';

/** The handlers of every listener of a gateway; `current` is its live runtime, `draining` whether its drain began. */
export function listenerHandlers(
  current: () => Runtime,
  draining: () => boolean,
  metrics: GatewayMetrics,
  logger: Logger,
): RequestHandlers {
  return {
    request: (exchange, listener) => {
      const live = current();
      const probes = live.config.admin?.probesPath;
      // HEAD too: a load balancer that probes with HEAD would otherwise be routed, and read the
      // upstream's 200 for the gateway's readiness, draining or not (the sink sends no body).
      const method = exchange.head.method;
      if (probes !== undefined && (method === 'GET' || method === 'HEAD')) {
        const which = probeFor(probes, exchange.head.target, live.config.paths);
        if (which !== undefined) return answerProbe(exchange.answer, which, draining());
      }
      RequestSession.request(live, listener, exchange);
    },
    refused: (refusal, failure, info) => RequestSession.refused(current(), refusal, failure, info),
    unserved: (request, failure, info) => RequestSession.unserved(current(), request, failure, info),
    refusedExchange: (exchange, failure, listener) =>
      RequestSession.refusedExchange(current(), listener, exchange, failure),
    limits: () => current().config.limits,
    clients: new ClientLimits(() => current().config.limits.perClient),
    dropped: (listener, count) => {
      metrics.connectionsDropped(listener.address, count);
      // In a cluster worker the bound met is its share of the file's (worker-share.ts): both are said.
      const share =
        listener.maxConnectionsOf === undefined
          ? { max_connections: listener.maxConnections }
          : { max_connections: listener.maxConnectionsOf, worker_share: listener.maxConnections };
      logger.warn(
        { listener: listener.address, dropped: count, ...share },
        'connections dropped: the listener holds its max_connections',
      );
    },
    proxyRefused: (listener, refusal, count) =>
      logger.warn(
        { listener: listener.address, client: refusal.remoteAddress, reason: refusal.reason, refused: count },
        'PROXY protocol: connection refused',
      ),
    handshakeFailed: (listener, failure, count) => {
      metrics.handshakesFailed(listener.address, failure.reason, count);
      // A client gone before its handshake ended is a port scan or a TCP check as often as not:
      // counted, not told.
      if (failure.reason === 'closed') return;
      logger.info(
        {
          listener: listener.address,
          client: failure.client || undefined,
          sni: failure.servername,
          reason: failure.reason,
          details: failure.detail,
          failed: count,
        },
        'TLS handshake failed',
      );
    },
    h2Bound: (listener, event) =>
      logger.warn(
        {
          listener: listener.address,
          bound: event.bound,
          code: event.code,
          client: event.remoteAddress,
          details: event.details,
        },
        'HTTP/2 bound passed',
      ),
  };
}

function answerProbe(answer: AnswerSink, which: 'live' | 'ready', draining: boolean): void {
  const { status, body } = probeAnswer(which, draining);
  const bytes = Buffer.from(body);
  try {
    answer.sendHead(status, REASONS[status] ?? '', [
      'content-type',
      'application/json',
      'cache-control',
      'no-store',
      'content-length',
      String(bytes.length),
    ]);
  } catch {
    // A head its client cannot take (an HTTP/2 client's header list size smaller than it): cut.
    answer.abort();
    return;
  }
  answer.write(bytes);
  answer.end();
}
