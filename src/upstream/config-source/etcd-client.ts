/**
 * The few etcd v3 calls a fleet needs, in plain values: keys and values as text (the gateway
 * carries them base64), revisions as numbers (it carries int64 as strings; a revision stays far
 * below 2^53).
 */
import { firstUndecodable, type Undecodable } from '../../core/config/utf8.ts';
import { EtcdError, type EtcdOptions, EtcdTransport, errorOf, UNAUTHENTICATED } from './etcd-transport.ts';

export { EtcdError, type EtcdOptions } from './etcd-transport.ts';

/** One key as etcd holds it at some revision. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /**
   * Where the value's bytes stop being UTF-8 (`value` holds U+FFFD there): etcd keeps any bytes,
   * and a config's must be UTF-8 (composed-config.ts refuses it at that place).
   */
  readonly undecodable?: Undecodable;
  /** The revision of the write that made this value. */
  readonly modRevision: number;
  readonly createRevision: number;
  /** Writes since the key was created, 1 for the first. */
  readonly version: number;
}

/** A change the watch saw: a value written, or the key deleted (at `revision`). */
export type WatchEvent =
  | { readonly type: 'put'; readonly kv: KeyValue }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number };

/** What a watch stream tells. */
export interface WatchListener {
  /**
   * etcd created the watch (its first message): the stream is etcd's, not only a connection that
   * answered. With the store's revision then: below one already seen, etcd's history went back.
   */
  onCreated?(headerRevision: number): void;
  /** Changes, in revision order. */
  onEvents(events: readonly WatchEvent[], headerRevision: number): void;
  /** etcd compacted past the revision asked for: the stream is closed; re-read from `compactRevision`. */
  onCompacted(compactRevision: number): void;
  /**
   * The stream ended (etcd stopped, the connection cut, the watch canceled), with why;
   * `refused`: etcd answered and refused this client the key (its permission revoked).
   */
  onEnd(why: string, refused?: boolean): void;
}

/** A compare of a transaction: the key's last write (`mod`) or its count of writes (`version`). */
export interface Compare {
  readonly key: string;
  readonly target: 'mod' | 'version';
  readonly equals: number;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const text = (base64: unknown) =>
  base64 === undefined ? '' : Buffer.from(String(base64), 'base64').toString('utf8');
const num = (value: unknown) => (value === undefined ? 0 : Number(value));

/** The end of the range of every key under `prefix` (etcd's "prefix + 1" rule on its last byte). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  bytes[bytes.length - 1]++;
  return bytes.toString('base64');
}

function toKeyValue(kv: Record<string, unknown>): KeyValue {
  const bytes = Buffer.from(String(kv.value ?? ''), 'base64');
  const value = bytes.toString('utf8');
  const undecodable = firstUndecodable(bytes, value);
  return {
    key: text(kv.key),
    value,
    ...(undecodable === undefined ? {} : { undecodable }),
    modRevision: num(kv.mod_revision),
    createRevision: num(kv.create_revision),
    version: num(kv.version),
  };
}

export class EtcdClient {
  readonly #transport: EtcdTransport;

  constructor(options: EtcdOptions) {
    this.#transport = new EtcdTransport(options);
  }

  /**
   * The key (or every key under it, `prefix`) now or as it was at `revision`; with the store's
   * revision at the time of the read. A revision compacted away throws EtcdError `compacted`.
   */
  async range(
    key: string,
    options: { prefix?: boolean; revision?: number } = {},
  ): Promise<{ revision: number; kvs: KeyValue[] }> {
    const answer = await this.#transport.call('/v3/kv/range', {
      key: b64(key),
      ...(options.prefix ? { range_end: prefixEnd(key) } : {}),
      ...(options.revision === undefined ? {} : { revision: String(options.revision) }),
    });
    const kvs = (answer.kvs as Record<string, unknown>[] | undefined) ?? [];
    return { revision: headerRevision(answer), kvs: kvs.map(toKeyValue) };
  }

  /** Writes `value` at `key`, bound to `lease` when given; the revision of the write. */
  async put(key: string, value: string, lease?: string): Promise<number> {
    const answer = await this.#transport.call(
      '/v3/kv/put',
      { key: b64(key), value: b64(value), ...(lease === undefined ? {} : { lease }) },
      true,
    );
    return headerRevision(answer);
  }

  /**
   * Writes every pair (bound to its lease, if given) in one revision if every compare holds;
   * otherwise reads `onFailure`'s keys.
   * The writes' revision when it succeeded, or what was read instead.
   */
  async putIf(
    compares: readonly Compare[],
    puts: readonly { key: string; value: string; lease?: string }[],
    onFailure: readonly string[],
  ): Promise<{ succeeded: true; revision: number } | { succeeded: false; read: KeyValue[] }> {
    const answer = await this.#transport.call(
      '/v3/kv/txn',
      {
        compare: compares.map(({ key, target, equals }) => ({
          key: b64(key),
          result: 'EQUAL',
          target: target === 'mod' ? 'MOD' : 'VERSION',
          ...(target === 'mod' ? { mod_revision: String(equals) } : { version: String(equals) }),
        })),
        success: puts.map(({ key, value, lease }) => ({
          request_put: { key: b64(key), value: b64(value), ...(lease === undefined ? {} : { lease }) },
        })),
        failure: onFailure.map((key) => ({ request_range: { key: b64(key) } })),
      },
      true,
    );
    // The gateway leaves out a false `succeeded`.
    if (answer.succeeded === true) return { succeeded: true, revision: headerRevision(answer) };
    const answers = (answer.responses as { response_range?: { kvs?: Record<string, unknown>[] } }[]) ?? [];
    return {
      succeeded: false,
      read: answers.flatMap((r) => (r.response_range?.kvs ?? []).map(toKeyValue)),
    };
  }

  /** A lease of `ttlSeconds`: keys bound to it go when it ends (not kept alive). Its id. */
  async grantLease(ttlSeconds: number): Promise<string> {
    const answer = await this.#transport.call('/v3/lease/grant', { TTL: String(ttlSeconds) }, true);
    return String(answer.ID);
  }

  /** Keeps the lease alive one more TTL; the TTL left, 0 when the lease is gone (expired, revoked). */
  async keepAlive(lease: string): Promise<number> {
    // A one-message stream: the gateway answers it and ends when the request body does.
    const answer = await this.#transport.call('/v3/lease/keepalive', { ID: lease });
    const result = (answer.result ?? answer) as Record<string, unknown>;
    return num(result.TTL);
  }

  /** Ends the lease at once: its keys go now, not when its TTL runs out. */
  async revoke(lease: string): Promise<void> {
    await this.#transport.call('/v3/lease/revoke', { ID: lease });
  }

  /**
   * Watches `key` from `fromRevision` (inclusive); resolves once the stream is open, with its stop.
   * A watch etcd refuses for the token it was opened with (expired: a simple token after its TTL
   * of disuse, a JWT after its TTL however used) is opened again at once with a new token, as a
   * call is: no outage, and the listener hears nothing of it.
   */
  watch(key: string, fromRevision: number, listener: WatchListener): Promise<() => void> {
    return this.#watch(key, fromRevision, listener, false);
  }

  /** watch(), `again` once it was opened again for its token. */
  async #watch(
    key: string,
    fromRevision: number,
    listener: WatchListener,
    again: boolean,
  ): Promise<() => void> {
    let done = false;
    /** The watch opened again with a new token, which this one's stop must end too. */
    let reopened: Promise<() => void> | undefined;
    const expired = (reason: string, code?: number) =>
      !again && (code === UNAUTHENTICATED || /invalid auth token|code = Unauthenticated/.test(reason));
    const reopen = () => {
      reopened = this.#watch(key, fromRevision, listener, true);
      reopened.then(
        () => stop.then((end) => end()),
        (err: Error) => listener.onEnd(err.message, err instanceof EtcdError && err.kind === 'refused'),
      );
    };
    const stop = this.#transport.stream(
      '/v3/watch',
      { create_request: { key: b64(key), start_revision: String(fromRevision) } },
      (message) => {
        if (done) return;
        const error = errorOf(message);
        if (error !== undefined) {
          done = true;
          if (expired(error.message, error.code) && this.#transport.tokenRefused()) return reopen();
          return listener.onEnd(`etcd: ${error.message}`, deniedBy(error.message, error.code));
        }
        const result = (message.result ?? {}) as Record<string, unknown>;
        if (result.canceled === true) {
          done = true;
          const compact = num(result.compact_revision);
          if (compact > 0) return listener.onCompacted(compact);
          // A watch on a key the user may no longer read is answered created and canceled in one
          // message: no watch was made, and etcd refuses this client, which is no outage.
          const reason = String(result.cancel_reason ?? 'no reason given');
          if (expired(reason) && this.#transport.tokenRefused()) return reopen();
          return listener.onEnd(`etcd canceled the watch: ${reason}`, deniedBy(reason));
        }
        if (result.created === true) listener.onCreated?.(headerRevision(result));
        const events = Array.isArray(result.events) ? (result.events as unknown[]) : [];
        if (events.length === 0) return;
        const read = events.map(watchEvent);
        if (read.includes(undefined)) {
          done = true;
          return listener.onEnd("etcd's watch sent an event without its key and value");
        }
        listener.onEvents(read as WatchEvent[], headerRevision(result));
      },
      (why) => {
        if (done) return;
        done = true;
        listener.onEnd(why);
      },
    );
    const end = await stop;
    return () => {
      done = true;
      end();
      reopened?.then(
        (next) => next(),
        () => {},
      );
    };
  }
}

/** A watch event as etcd writes it, or undefined when it carries no key-value (not etcd's word). */
function watchEvent(event: unknown): WatchEvent | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const { type, kv } = event as { type?: unknown; kv?: unknown };
  if (typeof kv !== 'object' || kv === null) return undefined;
  const read = toKeyValue(kv as Record<string, unknown>);
  return type === 'DELETE'
    ? { type: 'delete', key: read.key, revision: read.modRevision }
    : { type: 'put', kv: read };
}

/** etcd's PermissionDenied (gRPC code 7), by its code or, in a watch's cancel_reason, its words. */
function deniedBy(message: string, code?: number): boolean {
  return code === 7 || /permission denied/i.test(message);
}

function headerRevision(answer: Record<string, unknown>): number {
  return num((answer.header as Record<string, unknown> | undefined)?.revision);
}
