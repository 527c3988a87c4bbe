/**
 * The HTTP/2 family: real node:http2 servers (h2c with prior knowledge, or h2 over TLS with
 * ALPN) that answer, refuse streams, reset them before or after the head, hang, or say GOAWAY
 * before processing anything. Every stream that reaches a server is recorded, as for the
 * HTTP/1.1 faults (`httpVersion` "2.0").
 */
import { subscribe } from 'node:diagnostics_channel';
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { type Fault, FaultRecorder, listenLoopback } from './fault.ts';
import { pairHeaders, type RecordedRequest } from './recorded-request.ts';
import { testCertificates } from './tls-certs.ts';

const { constants } = http2;

/**
 * Streams the client reset before its END_STREAM. Node ends the readable side of a reset stream
 * too ('end' comes either way): what tells them apart is that at END_STREAM the readable side
 * has ended before the stream closes. The channel is published synchronously as it closes.
 */
const resetBeforeEnd = new WeakSet<ServerHttp2Stream>();
subscribe('http2.server.stream.close', (message) => {
  const stream = (message as { stream: ServerHttp2Stream & { _readableState: { ended: boolean } } }).stream;
  if (!stream._readableState.ended) resetBeforeEnd.add(stream);
});

/** What a server does with each stream, once its head is recorded. */
export type H2Behaviour = (stream: ServerHttp2Stream, request: RecordedRequest) => void;

export interface H2FaultOptions {
  /** h2 over TLS (ALPN h2, the kit's localhost certificate) instead of h2c. */
  tls?: boolean;
  /** With `tls`: a certificate for other.example only (ERR_TLS_CERT_ALTNAME_INVALID), instead of localhost's. */
  wrongHost?: boolean;
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxConcurrentStreams?: number;
  /** The server's SETTINGS_MAX_HEADER_LIST_SIZE: node:http2 resets a stream whose head is past it (ENHANCE_YOUR_CALM). */
  maxHeaderListSize?: number;
  /**
   * The server's SETTINGS_INITIAL_WINDOW_SIZE: 0 keeps every stream's flow-control window shut,
   * so no byte of a request body can be sent to it (a server that never reads one).
   */
  initialWindowSize?: number;
  /**
   * With `tls`: the server requires a client certificate its CA signed and ends the handshake
   * with an alert when none comes (under TLS 1.3, after the client's side of it was over).
   */
  requireClientCertificate?: boolean;
}

export interface H2Fault extends Fault {
  /** For `tls`: the CA to trust (the gateway's `tls.ca`). */
  readonly caPath: string | undefined;
  /** Streams open on the server right now, and the most there ever were at once. */
  readonly openStreams: number;
  readonly peakStreams: number;
}

/** Answers 200 with a small JSON body naming what arrived (method, path, authority, body length). */
export const h2Answer: H2Behaviour = (stream, request) => {
  stream.on('end', () => {
    if (stream.closed) return;
    const body = JSON.stringify({
      method: request.method,
      path: request.path,
      bodyLength: request.bodyLength,
    });
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-upstream': 'h2' });
    stream.end(body);
  });
};

/** Refuses every stream with RST_STREAM REFUSED_STREAM: "not processed, try again" (RFC 9113 §8.7). */
export const h2Refuse: H2Behaviour = (stream) => {
  stream.close(constants.NGHTTP2_REFUSED_STREAM);
};

/** Resets the stream (INTERNAL_ERROR) before any response head. */
export const h2ResetBeforeHead: H2Behaviour = (stream) => {
  stream.close(constants.NGHTTP2_INTERNAL_ERROR);
};

/** Sends the head and part of the body, then resets the stream (INTERNAL_ERROR). */
export const h2ResetAfterHead: H2Behaviour = (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': '100' });
  // destroy(), not close(code): close() ends the stream cleanly first when data is pending.
  stream.write('first part', () => setTimeout(() => stream.destroy(new Error('crash mid-body')), 20));
};

/**
 * The TCP sockets startH2's servers accepted, by the client's port: a session's `socket` is
 * node:http2's proxy of it, whose `destroy()` throws ERR_HTTP2_NO_SOCKET_MANIPULATION on Node 22.
 */
const accepted = new Map<number, Socket>();

/**
 * Closes the connection a stream of startH2's came on (FIN, no GOAWAY): the upstream's crash.
 * The accepted socket is destroyed, which every Node allows, not the session's proxy of it.
 */
export function dropH2Connection(stream: ServerHttp2Stream): void {
  const port = stream.session?.socket?.remotePort;
  (port === undefined ? undefined : accepted.get(port))?.destroy();
}

/** Closes the whole connection (no GOAWAY) on the first stream, before any head: a crash. */
export const h2DropConnection: H2Behaviour = (stream) => {
  dropH2Connection(stream);
};

/** Resets the whole TCP connection (RST, no GOAWAY) on the first stream, before any head. */
export const h2ResetConnection: H2Behaviour = (stream) => {
  stream.session?.socket?.resetAndDestroy();
};

/** Refuses the stream with HTTP_1_1_REQUIRED: the server wants HTTP/1.1 for this request. */
export const h2RequireHttp1: H2Behaviour = (stream) => {
  stream.close(constants.NGHTTP2_HTTP_1_1_REQUIRED);
};

/**
 * Sends interim (103) heads, a burst a turn, until the stream is gone: never a final answer. A
 * burst of 500 takes a client's bound on them (a response head's size: Candor's 32 KiB, some 800
 * of them) in two turns, within its response timeout on a loaded machine too (at 50 a turn, the
 * 16 turns did not always come in 300 ms, and the gateway's answer was its timeout's).
 */
export const h2InterimFlood: H2Behaviour = (stream) => {
  const burst = (): void => {
    for (let i = 0; i < 500; i++) {
      if (stream.destroyed || stream.closed) return;
      stream.additionalHeaders({ ':status': 103 });
    }
    setImmediate(burst);
  };
  burst();
};

/** Accepts the stream and never answers. */
export const h2Hang: H2Behaviour = () => {};

/** Starts a node:http2 server running `behaviour` on every stream. */
export async function startH2(behaviour: H2Behaviour, options: H2FaultOptions = {}): Promise<H2Fault> {
  const recorder = new FaultRecorder();
  const settings = {
    maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
    ...(options.maxHeaderListSize === undefined ? {} : { maxHeaderListSize: options.maxHeaderListSize }),
    ...(options.initialWindowSize === undefined ? {} : { initialWindowSize: options.initialWindowSize }),
  };
  const certificates = options.tls ? testCertificates() : undefined;
  const server = certificates
    ? http2.createSecureServer({
        ...(options.wrongHost ? certificates.wrongHost : certificates.localhost),
        settings,
        ALPNProtocols: ['h2'],
        ...(options.requireClientCertificate
          ? { ca: [certificates.ca], requestCert: true, rejectUnauthorized: true }
          : {}),
      })
    : http2.createServer({ settings });
  let open = 0;
  let peak = 0;
  server.on('connection', (socket: Socket) => {
    recorder.track(socket);
    const port = socket.remotePort;
    if (port === undefined) return;
    accepted.set(port, socket);
    socket.once('close', () => {
      if (accepted.get(port) === socket) accepted.delete(port);
    });
  });
  server.on('secureConnection', (socket) => recorder.destroyOnClose(socket));
  server.on('sessionError', () => {});
  (server as http2.Http2Server).on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      stream.on('error', () => {});
      open++;
      peak = Math.max(peak, open);
      stream.on('close', () => {
        open--;
        recorder.changed();
      });
      const request = recorder.addRequest({
        connection: recorder.byRemotePort(stream.session?.socket?.remotePort)?.index ?? 0,
        method: String(headers[':method']),
        path: String(headers[':path']),
        httpVersion: '2.0',
        rawHeaders: pairHeaders(raw),
      });
      stream.on('data', (chunk: Buffer) => request.addBody(chunk));
      // Complete only at the client's END_STREAM: a body reset before it was cut, never whole.
      stream.on('end', () => {
        if (!resetBeforeEnd.has(stream)) request.complete();
      });
      behaviour(stream, request);
    },
  );
  recorder.adopt(server as unknown as Server);
  const port = await listenLoopback(server as unknown as Server);
  return recorder.handle(`${certificates ? 'https' : 'http'}://127.0.0.1:${port}`, port, {
    caPath: certificates?.caPath,
    get openStreams() {
      return open;
    },
    get peakStreams() {
      return peak;
    },
  });
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One HTTP/2 frame: 9-byte header (RFC 9113 §4.1) and payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/**
 * An h2c server that reads the client's preface and answers with its SETTINGS and a GOAWAY
 * whose last stream id is 0: no stream of the client was processed (RFC 9113 §6.8). Written
 * frame by frame, since node:http2 picks the last stream id itself. No request is recorded:
 * none was processed.
 */
export function startH2GoawayFirst(): Promise<Fault> {
  const goaway = Buffer.alloc(8); // last stream id 0, NO_ERROR
  return startAfterPreface(() => [
    frame(0x4, 0, 0, Buffer.alloc(0)),
    frame(0x4, 0x1, 0, Buffer.alloc(0)),
    frame(0x7, 0, 0, goaway),
  ]);
}

/**
 * An h2c server that reads each connection's preface and then writes what `frames()` gives,
 * once, recording every byte it read.
 */
async function startAfterPreface(frames: () => Buffer[]): Promise<Fault> {
  const recorder = new FaultRecorder();
  const server = createNetServer((socket) => {
    const record = recorder.track(socket);
    let seen = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      record.captureBytes(chunk);
      if (seen.length >= PREFACE.length) return;
      seen = Buffer.concat([seen, chunk]);
      if (seen.length < PREFACE.length) return;
      socket.write(Buffer.concat(frames()));
    });
  });
  recorder.adopt(server);
  const port = await listenLoopback(server);
  return recorder.handle(`http://127.0.0.1:${port}`, port);
}

/** One HPACK literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2); short names and values. */
function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0, n.length]), n, Buffer.from([v.length]), v]);
}

/** What a raw h2c server writes on its connection's stream 1, frame by frame. */
export interface H2RawAnswer {
  /** The response head's fields in order, `:status` first, bytes as given (latin1). */
  readonly head: readonly (readonly [string, string])[];
  /** DATA frames after the head (none: the head carries END_STREAM). */
  readonly data?: readonly string[];
  /** How the stream ends after the last DATA frame: END_STREAM on it, or RST_STREAM with this code. */
  readonly reset?: number;
  /** A trailer section after the DATA, with END_STREAM (instead of END_STREAM on the last DATA frame). */
  readonly trailers?: readonly (readonly [string, string])[];
  /** The trailer section's HEADERS without END_STREAM (RFC 9113 §8.1 makes such an answer malformed), and nothing after it. */
  readonly trailersUnended?: boolean;
  /** A PUSH_PROMISE on stream 1 (promising stream 2) before the head, whatever the client's SETTINGS_ENABLE_PUSH. */
  readonly push?: boolean;
  /** A GOAWAY after the last DATA frame (which then has no END_STREAM), naming this last stream id and code. */
  readonly goaway?: { readonly lastStreamId: number; readonly code: number };
  /** The last DATA frame has no END_STREAM, and nothing follows it: the stream stays open. */
  readonly unended?: boolean;
}

/**
 * garbage: an h2c server that answers its connection's first stream with frames node:http2 would
 * never send (a head whose values hold bytes a field may not hold, a body reset with NO_ERROR
 * instead of ended), written frame by frame. Each connection answers its stream 1 once.
 */
export function startH2Raw(answer: H2RawAnswer): Promise<Fault> {
  return startAfterPreface(() => {
    const data = answer.data ?? [];
    const block = Buffer.concat(answer.head.map(([name, value]) => hpackLiteral(name, value)));
    const frames = [frame(0x4, 0, 0, Buffer.alloc(0)), frame(0x4, 0x1, 0, Buffer.alloc(0))];
    if (answer.push) {
      const promised = Buffer.from([0, 0, 0, 2]);
      const request = [':method GET', ':scheme http', ':authority a', ':path /pushed'].map((f) =>
        hpackLiteral(...(f.split(' ') as [string, string])),
      );
      frames.push(frame(0x5, 0x4, 1, Buffer.concat([promised, ...request]))); // PUSH_PROMISE, END_HEADERS
    }
    frames.push(frame(0x1, 0x4 | (data.length === 0 ? 0x1 : 0), 1, block)); // HEADERS, END_HEADERS
    data.forEach((piece, i) => {
      const last =
        i === data.length - 1 &&
        answer.reset === undefined &&
        answer.trailers === undefined &&
        answer.goaway === undefined &&
        answer.unended !== true;
      frames.push(frame(0x0, last ? 0x1 : 0, 1, Buffer.from(piece, 'latin1')));
    });
    if (answer.trailers !== undefined) {
      const trailers = Buffer.concat(answer.trailers.map(([name, value]) => hpackLiteral(name, value)));
      frames.push(frame(0x1, 0x4 | (answer.trailersUnended === true ? 0 : 0x1), 1, trailers)); // HEADERS, END_HEADERS, END_STREAM
    }
    if (answer.reset !== undefined) {
      const code = Buffer.alloc(4);
      code.writeUInt32BE(answer.reset, 0);
      frames.push(frame(0x3, 0, 1, code));
    }
    if (answer.goaway !== undefined) {
      const goaway = Buffer.alloc(8);
      goaway.writeUInt32BE(answer.goaway.lastStreamId, 0);
      goaway.writeUInt32BE(answer.goaway.code, 4);
      frames.push(frame(0x7, 0, 0, goaway));
    }
    return frames;
  });
}

/**
 * garbage: a head whose `:status` is the text given ("999"), which node:http2 would refuse to
 * send, with END_STREAM.
 */
export function startH2RawStatus(status: string): Promise<Fault> {
  return startH2Raw({ head: [[':status', status]] });
}
