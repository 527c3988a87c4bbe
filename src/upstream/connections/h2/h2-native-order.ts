import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';

/**
 * node:http2's native session must be freed after its streams, not before: a stream whose
 * response head was cut in the middle (an upstream's CONTINUATION flood that nghttp2 gives up
 * on: "Too many CONTINUATION frames") keeps the fields decoded so far, counted in the session's
 * nghttp2 memory, until the stream's native object is freed. Both are freed by the garbage
 * collector once closed, in no set order; when the session goes first, its destructor finds
 * that memory still counted and aborts the process (node_http2.cc, `current_nghttp2_memory_ ==
 * 0`: seen on Node 24.21 after a few dozen such answers, the gateway gone with every request
 * in flight). Node's own fix for the like (CVE-2024-27983) frees the streams the session still
 * lists, not one already closed and waiting for the collector.
 *
 * So each stream's native handle, while it lives, holds its session's: a FinalizationRegistry
 * keeps the session's handle until the stream's handle has been collected (its native object
 * freed in that collection, the registry's callback run in a later task), and the session's is
 * collected after. The handles are node:http2's own (its `kHandle` field); a Node that names
 * them otherwise leaves the streams unpinned, as before.
 */
const pins = new FinalizationRegistry<object>(() => {});

/** node:http2's `kHandle`, once seen on a stream (searched for until then). */
let handleKey: symbol | undefined;

function handleOf(owner: object): object | undefined {
  handleKey ??= Object.getOwnPropertySymbols(owner).find((key) => key.description === 'kHandle');
  if (handleKey === undefined) return undefined;
  const handle = (owner as Record<symbol, unknown>)[handleKey];
  return typeof handle === 'object' && handle !== null ? handle : undefined;
}

/** Pins `session`'s native handle to `stream`'s, once the stream has one (its 'ready'). */
export function freeStreamBeforeSession(session: ClientHttp2Session, stream: ClientHttp2Stream): void {
  if (stream.id !== undefined) pin(session, stream);
  else stream.once('ready', () => pin(session, stream));
}

function pin(session: ClientHttp2Session, stream: ClientHttp2Stream): void {
  const streamHandle = handleOf(stream);
  const sessionHandle = handleOf(session);
  if (streamHandle !== undefined && sessionHandle !== undefined) pins.register(streamHandle, sessionHandle);
}
