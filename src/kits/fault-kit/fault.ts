/**
 * What every fault-kit server shares: the Fault handle tests hold, the records of what reached
 * the server, and the bookkeeping that lets `close()` never hang (every socket is tracked and
 * destroyed).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import { type ReceivedRequest, RecordedRequest } from './recorded-request.ts';

/** How a connection ended: the peer sent FIN, the peer reset it, or the server closed it first. */
type ConnectionEnd = 'fin' | 'reset' | 'local';

/** One accepted TCP connection. */
export interface ConnectionRecord {
  /** 1-based, in accept order. */
  readonly index: number;
  readonly remotePort: number;
  readonly openedAt: number;
  /** Bytes Node read from the kernel for this connection (before TLS decryption for TLS servers). */
  readonly bytesReceived: number;
  /** The first bytes received (up to 64 KiB): a TLS ClientHello starts with 0x16 0x03. */
  readonly firstBytes: Buffer;
  /** Set once the peer half-closed (FIN) or reset the connection. */
  readonly peerEnd: 'fin' | 'reset' | undefined;
  readonly closed: boolean;
  /**
   * Resolves when the connection ends, saying who ended it first: the peer's FIN or RST (even if
   * the server keeps its half open), or the server's own close.
   */
  readonly ended: Promise<ConnectionEnd>;
}

/** A running misbehaving server. */
export interface Fault {
  /** "http://127.0.0.1:41234" (https:// for the TLS family, or deliberately the wrong scheme). */
  readonly url: string;
  readonly port: number;
  /** Every request head that reached the server (bodies fill in as they arrive). */
  readonly received: readonly ReceivedRequest[];
  /** How many TCP connections were accepted. */
  readonly connections: number;
  readonly connectionLog: readonly ConnectionRecord[];
  /** Resolves with the nth request (1-based) once its head, or with `{ body: true }` its whole body, arrived. */
  waitForRequest(n?: number, options?: WaitOptions & { body?: boolean }): Promise<ReceivedRequest>;
  /** Resolves with the nth accepted connection (1-based). */
  waitForConnection(n?: number, options?: WaitOptions): Promise<ConnectionRecord>;
  /** Stops listening and destroys every open socket. Never hangs; safe to call twice. */
  close(): Promise<void>;
}

interface WaitOptions {
  /** Reject after this long (default 5000 ms) so a test fails with a message instead of hanging. */
  timeoutMs?: number;
}

const FIRST_BYTES = 64 * 1024;

class TrackedConnection implements ConnectionRecord {
  readonly index: number;
  readonly remotePort: number;
  readonly openedAt = performance.now();
  readonly ended: Promise<ConnectionEnd>;
  peerEnd: 'fin' | 'reset' | undefined;
  closed = false;
  #firstBytes: Buffer[] = [];
  #firstLength = 0;
  #socket: Socket;
  #resolveEnded!: (how: ConnectionEnd) => void;

  constructor(index: number, socket: Socket) {
    this.index = index;
    this.remotePort = socket.remotePort ?? 0;
    this.#socket = socket;
    this.ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  get bytesReceived(): number {
    return this.#socket.bytesRead;
  }

  get firstBytes(): Buffer {
    if (this.#firstBytes.length > 1) this.#firstBytes = [Buffer.concat(this.#firstBytes)];
    return this.#firstBytes[0] ?? Buffer.alloc(0);
  }

  captureBytes(bytes: Buffer): void {
    if (this.#firstLength >= FIRST_BYTES) return;
    const kept = Buffer.from(bytes.subarray(0, FIRST_BYTES - this.#firstLength));
    this.#firstBytes.push(kept);
    this.#firstLength += kept.length;
  }

  markPeerEnd(how: 'fin' | 'reset'): void {
    this.peerEnd ??= how;
    this.#resolveEnded(this.peerEnd);
  }

  markClosed(): void {
    this.closed = true;
    this.#resolveEnded(this.peerEnd ?? 'local');
  }
}

/**
 * The shared bookkeeping of one fault server: connections, requests, waiters, closing.
 * Factories build on it; tests only see the `Fault` it hands out.
 */
export class FaultRecorder {
  readonly received: RecordedRequest[] = [];
  readonly connectionLog: TrackedConnection[] = [];
  readonly #events = new EventEmitter();
  readonly #sockets = new Set<Socket>();
  readonly #servers: Server[] = [];
  readonly #cleanups: Array<() => void | Promise<void>> = [];
  #closed = false;

  constructor() {
    this.#events.setMaxListeners(0);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Registers a server for close() to stop (its sockets are tracked separately, by `track`). */
  adopt(server: Server): void {
    this.#servers.push(server);
  }

  /** Runs at close(), after the servers are down. */
  onClose(cleanup: () => void | Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  /** Destroys `socket` at close() (for sockets layered on a tracked one, e.g. TLS). */
  destroyOnClose(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    if (this.#closed) socket.destroy();
  }

  /** The live connection whose peer uses `remotePort` (loopback: unique among open connections). */
  byRemotePort(remotePort: number | undefined): TrackedConnection | undefined {
    for (let i = this.connectionLog.length - 1; i >= 0; i--) {
      if (this.connectionLog[i].remotePort === remotePort) return this.connectionLog[i];
    }
    return undefined;
  }

  /** Registers an accepted TCP socket; returns its record. */
  track(socket: Socket): TrackedConnection {
    const record = new TrackedConnection(this.connectionLog.length + 1, socket);
    this.connectionLog.push(record);
    this.#sockets.add(socket);
    socket.on('end', () => {
      record.markPeerEnd('fin');
      this.changed();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') record.markPeerEnd('reset');
      this.changed();
    });
    socket.on('close', () => {
      this.#sockets.delete(socket);
      record.markClosed();
      this.changed();
    });
    if (this.#closed) socket.destroy();
    this.changed();
    return record;
  }

  /** Adds a request record (head just parsed). */
  addRequest(init: Omit<ConstructorParameters<typeof RecordedRequest>[0], 'index'>): RecordedRequest {
    const request = new RecordedRequest({ ...init, index: this.received.length + 1 }, () => this.changed());
    this.received.push(request);
    this.changed();
    return request;
  }

  changed(): void {
    this.#events.emit('change');
  }

  waitFor<T>(find: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let found: T | undefined;
        try {
          found = find();
        } catch (error) {
          finish();
          reject(error);
          return;
        }
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (this.#closed) {
          finish();
          reject(new Error(`fault kit: server closed while waiting for ${what}`));
        }
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            finish();
            reject(new Error(`fault kit: timed out after ${timeoutMs} ms waiting for ${what}`));
          }, timeoutMs)
        : undefined;
      const finish = (): void => {
        clearTimeout(timer);
        this.#events.off('change', check);
      };
      this.#events.on('change', check);
      check();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stopped = this.#servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const socket of this.#sockets) socket.destroy();
    for (const server of this.#servers) {
      const closeAll = (server as Server & { closeAllConnections?: () => void }).closeAllConnections;
      closeAll?.call(server);
    }
    await Promise.all(stopped);
    for (const cleanup of this.#cleanups) await cleanup();
    this.changed();
  }

  /** The Fault handle for a server listening on `port`. */
  handle<Extra extends object>(url: string, port: number, extra?: Extra): Fault & Extra {
    const recorder = this;
    const base: Fault = {
      url,
      port,
      received: this.received,
      get connections() {
        return recorder.connectionLog.length;
      },
      connectionLog: this.connectionLog,
      waitForRequest: (n = 1, options = {}) =>
        this.waitFor(
          () => {
            const request = this.received[n - 1];
            return request && (!options.body || request.bodyComplete) ? request : undefined;
          },
          `request #${n}${options.body ? ' with its whole body' : ''} at ${url}`,
          options.timeoutMs,
        ),
      waitForConnection: (n = 1, options = {}) =>
        this.waitFor(() => this.connectionLog[n - 1], `connection #${n} at ${url}`, options.timeoutMs),
      close: () => this.close(),
    };
    // Descriptors, not Object.assign, so getters in `extra` stay live.
    return Object.defineProperties(base, Object.getOwnPropertyDescriptors(extra ?? {})) as Fault & Extra;
  }
}

/** Listens on 127.0.0.1, on `port` or one the system picks (0); resolves with the port. */
export function listenLoopback(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
