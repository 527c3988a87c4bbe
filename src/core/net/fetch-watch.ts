/**
 * What Node's fetch (undici) tells of the requests one call makes, which fetch itself does not:
 * whether a request's head was written (a time limit that ran out before then ran out connecting,
 * nothing was sent), whether a socket's name lookup finished, how the connection stood when the
 * answering request ended. undici tells each request's life on its diagnostics channels: a call's
 * requests are those created in the call's async context (a redirect's hops among them), each
 * followed by the socket `sendHeaders` names, its answer's head, its body's bytes and its end; the sockets the call
 * opens are told on `net.client.socket` in that context too. Read by the auth hops
 * (proxy/admit/auth-hop.ts) and candor/client (kits/client/connection-end.ts).
 *
 * One subscription per channel for the process, made with the first call watched: a process that
 * watches none hears nothing. Every connection a watched call writes on has its parser's end
 * mended (paused-parser-finish.ts). A `fetch` that is no undici publishes nothing: its watcher is told
 * nothing, which its reader takes as "not known", never as "did not happen".
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { mendPausedFinish } from './paused-parser-finish.ts';

/** What one call's watcher is told, each as it happens (every method optional). */
export interface FetchWatcher {
  /** A request of the call was created. */
  created?(request: object): void;
  /** A socket the call opened, before its name lookup and connect. */
  socketOpened?(socket: Socket): void;
  /** A request's head was written to `socket`: it may have reached the server. */
  headWritten?(request: object, socket: Socket): void;
  /** A request's answer head came, with its raw fields (`[name, value, …]`). */
  headCame?(request: object, fields: readonly Buffer[]): void;
  /** Bytes of a request's answer body, as the connection gave them (its transfer coding undone, not its content coding). */
  bodyChunk?(request: object, chunk: Buffer): void;
  /** A request ended, whole (its trailers) or not (an error): told before fetch hears of it. */
  ended?(request: object): void;
}

const calls = new AsyncLocalStorage<FetchWatcher>();
const watcherOf = new WeakMap<object, FetchWatcher>();
let subscribed = false;

function subscribeOnce(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('undici:request:create', (message) => {
    const watcher = calls.getStore();
    if (watcher === undefined) return;
    const { request } = message as { request: object };
    watcherOf.set(request, watcher);
    watcher.created?.(request);
  });
  subscribe('net.client.socket', (message) => {
    calls.getStore()?.socketOpened?.((message as { socket: Socket }).socket);
  });
  subscribe('undici:client:sendHeaders', (message) => {
    const { request, socket } = message as { request: object; socket: Socket };
    const watcher = watcherOf.get(request);
    if (watcher === undefined) return;
    // Before its answer comes: undici before 8 ends the process on a close while a body's reader
    // is behind (nodejs/undici#5360), the app's with candor/client, the gateway's with an auth
    // hop's answer; mended on every connection a watched call uses.
    mendPausedFinish(socket);
    watcher.headWritten?.(request, socket);
  });
  subscribe('undici:request:headers', (message) => {
    const { request, response } = message as { request: object; response: { headers: Buffer[] } };
    watcherOf.get(request)?.headCame?.(request, response.headers);
  });
  subscribe('undici:request:bodyChunkReceived', (message) => {
    const { request, chunk } = message as { request: object; chunk: Buffer };
    watcherOf.get(request)?.bodyChunk?.(request, chunk);
  });
  const ended = (message: unknown) => {
    const { request } = message as { request: object };
    watcherOf.get(request)?.ended?.(request);
  };
  subscribe('undici:request:trailers', ended);
  subscribe('undici:request:error', ended);
}

/** Runs `call` (a fetch, its redirects followed) with `watcher` told of the requests it makes. */
export function watchingFetch<T>(watcher: FetchWatcher, call: () => T): T {
  subscribeOnce();
  return calls.run(watcher, call);
}
