import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { releaseOnClose } from '../admit/in-flight-limit.ts';
import { writeErrorResponse } from '../decide/error-response.ts';
import { classifyExchangeError } from '../failure/classify.ts';
import { Failure } from '../failure/failure.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { isTargetFault, recordOutcome } from '../health/outlier.ts';
import { logRequest } from '../log/access-log.ts';
import type { RequestRecord } from '../log/request-record.ts';
import { stripPrefix } from '../route/router.ts';
import { selectTarget } from '../select/select-target.ts';
import { admit, createRecord, nextHopOf } from '../session/admit.ts';
import type { ListenerFacts } from '../session/handle-request.ts';
import { UPSTREAM_MAX_HEADER_SIZE } from '../upstream/upstream.ts';
import { buildUpstreamHeaders } from './request-headers.ts';

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5][0-9]{2})(?: [^\r\n]*)?$/;

/**
 * Upgrade requests (WebSocket and kin) leave the pools: after a 101 the connection is a
 * tunnel. Candor opens its own classified connection, sends the head, reads the upstream's
 * answer, and then splices the two sockets with backpressure in both directions.
 */
export function handleUpgrade(
  runtime: Runtime,
  listener: ListenerFacts,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
): void {
  const record = createRecord(req);
  record.upgraded = true;
  let logged = false;
  const log = () => {
    if (logged) return;
    logged = true;
    logRequest(runtime.logger, record);
  };
  client.on('error', () => client.destroy());

  const fail = (failure: Failure) => {
    record.failure = failure;
    record.status = failure.status;
    if (client.destroyed) {
      record.clientAborted = true;
      return log();
    }
    const res = new http.ServerResponse(req);
    res.assignSocket(client);
    res.once('finish', () => client.destroySoon());
    writeErrorResponse(req, res, failure, {
      proxyName: runtime.name,
      requestId: record.id,
      accept: req.headers.accept,
      nextHop: failure.kind.shape === 'client' ? undefined : nextHopOf(runtime, record),
      head: false,
      close: true,
    });
    log();
  };

  const admitted = admit(runtime, req, record, listener.inFlight);
  if (admitted instanceof Failure) return fail(admitted);
  // An upgrade holds its load-shedding slots only while it is set up: until the upstream's
  // answer is relayed, or the client connection closes.
  releaseOnClose(client, admitted.release);
  const { route, upstream, authority, path } = admitted;
  const selection = selectTarget(upstream, performance.now(), []);
  if (selection instanceof Failure) return fail(selection);
  // A tunnel is one attempt, never retried: its outcome still counts for the target's health.
  const { target } = selection;
  record.target = target.config.origin;
  if (selection.panic) record.panic = true;
  const outcome = (failure: Failure | undefined) => {
    const now = performance.now();
    selection.releaseProbe();
    recordOutcome(upstream, target, failure, now);
    upstream.circuit.record(now, isTargetFault(failure), selection.circuitProbe);
  };
  const via = req.httpVersionMinor === 0 ? runtime.via10 : runtime.via11;
  const headers = buildUpstreamHeaders(req.rawHeaders, {
    clientAddress: record.clientAddress,
    trusted: runtime.trust.has(record.clientAddress),
    protocol: listener.protocol,
    host: authority,
    requestId: record.id,
    traceparent: record.trace.traceparent,
    keepTracestate: record.trace.continued,
    via,
  });
  headers.push('connection', 'upgrade', 'upgrade', req.headers.upgrade ?? '');
  if (!headers.some((_, i) => i % 2 === 0 && headers[i].toLowerCase() === 'host'))
    headers.push('host', authority);
  let requestHead = `${req.method} ${route.stripPrefix ? stripPrefix(route.path, path) : path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) requestHead += `${headers[i]}: ${headers[i + 1]}\r\n`;
  requestHead += '\r\n';

  const { hostname, port, protocol } = target.config;
  const release = target.active.acquire();
  upstream.connect({ hostname, protocol, port: String(port) }, (err, socket) => {
    if (err || !socket) {
      release();
      const failure = err instanceof Failure ? err : classifyExchangeError(err, 'not_sent', record.elapsed());
      outcome(failure);
      return fail(failure);
    }
    record.connectMs = record.elapsed();
    if (client.destroyed) {
      socket.destroy();
      release();
      record.clientAborted = true;
      return log();
    }
    socket.write(requestHead);
    if (head.length > 0) socket.write(head);
    readResponseHead(
      socket,
      upstream.config.timeouts.response,
      record,
      (failure, status, responseHead, rest) => {
        outcome(failure);
        if (failure) {
          socket.destroy();
          release();
          return fail(failure);
        }
        record.status = status;
        record.ttfbMs = record.elapsed();
        client.write(withGatewayHeaders(responseHead, record.id, via));
        admitted.release();
        if (rest.length > 0) {
          record.bytesOut += rest.length;
          client.write(rest);
        }
        splice(client, socket, record, () => {
          release();
          log();
        });
      },
    );
  });
}

type HeadCallback = (failure: Failure | undefined, status: number, head: string, rest: Buffer) => void;

/** Reads the upstream's response head (status line and fields) off a raw socket. */
function readResponseHead(socket: Socket, timeout: number, record: RequestRecord, done: HeadCallback): void {
  let buffered: Buffer = Buffer.alloc(0);
  let settled = false;
  const finish = (failure: Failure | undefined, status = 0, head = '', rest: Buffer = Buffer.alloc(0)) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    done(failure, status, head, rest);
  };
  const timer = setTimeout(
    () =>
      finish(new Failure('http_response_timeout', `no response head after ${timeout} ms`, { stage: 'sent' })),
    timeout,
  );
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end === -1) {
      if (buffered.length > UPSTREAM_MAX_HEADER_SIZE) {
        finish(
          new Failure('http_response_header_section_size', 'response header section over the limit', {
            stage: 'sent',
          }),
        );
      } else if (!looksLikeHttp(buffered)) {
        finish(
          new Failure('http_protocol_error', 'invalid response: not an HTTP/1.x status line', {
            stage: 'sent',
          }),
        );
      }
      return;
    }
    const head = buffered.subarray(0, end).toString('latin1');
    const statusLine = head.slice(0, head.indexOf('\r\n') === -1 ? head.length : head.indexOf('\r\n'));
    const m = STATUS_LINE.exec(statusLine);
    if (!m)
      return finish(
        new Failure('http_protocol_error', 'invalid response: not an HTTP/1.x status line', {
          stage: 'sent',
        }),
      );
    socket.pause();
    finish(undefined, Number(m[1]), head, buffered.subarray(end + 4));
  };
  const onEnd = () =>
    finish(
      new Failure('connection_terminated', `connection closed by the upstream before the response head`, {
        stage: 'sent',
      }),
    );
  const onError = (err: Error) => {
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') record.upstreamReset = true;
    finish(classifyExchangeError(err, 'sent', record.elapsed()));
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('error', onError);
}

/** Whether what arrived so far can still become "HTTP/1.x ". */
function looksLikeHttp(bytes: Buffer): boolean {
  const prefix = 'HTTP/1.';
  const n = Math.min(bytes.length, prefix.length);
  return bytes.toString('latin1', 0, n) === prefix.slice(0, n);
}

function withGatewayHeaders(head: string, requestId: string, via: string): string {
  const kept = head
    .split('\r\n')
    .filter((line, i) => i === 0 || !/^(via|x-request-id):/i.test(line))
    .join('\r\n');
  const upstreamVia = /\r\nvia:[ \t]*([^\r\n]*)/i.exec(head)?.[1];
  return `${kept}\r\nvia: ${upstreamVia ? `${upstreamVia}, ${via}` : via}\r\nx-request-id: ${requestId}\r\n\r\n`;
}

/** Two-way pipe with backpressure; either side closing or failing ends both. */
function splice(client: Socket, upstream: Socket, record: RequestRecord, closed: () => void): void {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    client.destroy();
    upstream.destroy();
    closed();
  };
  client.on('data', (chunk: Buffer) => {
    record.bytesIn += chunk.length;
  });
  upstream.on('data', (chunk: Buffer) => {
    record.bytesOut += chunk.length;
  });
  client.pipe(upstream);
  upstream.pipe(client);
  upstream.resume();
  client.on('close', end);
  upstream.on('close', end);
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') record.upstreamReset = true;
    end();
  });
}
