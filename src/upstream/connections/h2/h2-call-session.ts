/**
 * What an HTTP/2 call (h2-call.ts) reads of the session that carries it: types only, here so
 * that the call does not import the session that creates it (h2-session.ts implements them).
 */

/** Why a session ended, for the streams it takes down with it (each call classifies its own end with it). */
export interface SessionEnd {
  /** The upstream's GOAWAY: streams above `lastStreamId` were never processed (RFC 9113 §6.8). */
  readonly goaway?: {
    readonly code: number;
    readonly lastStreamId: number;
    /** Its debug data, as `snippet` shows bytes of the upstream's (quoted), when it sent some. */
    readonly debug?: string;
  };
  /** The session's own error (a protocol error, the socket's reset). */
  readonly error?: NodeJS.ErrnoException;
}

/**
 * What a call reads of the session that carries it (H2Session, h2-session.ts): its peer, for
 * the exchange's log fields, and why it ended, when the stream ends with it.
 */
export interface H2CallSession {
  readonly end: SessionEnd;
  /** The largest response head (or trailer section) taken, as the session's SETTINGS say it. */
  readonly maxHeaderSize: number;
  /** Neither closed nor told to go away: a stream's end now is its own, not the session's. */
  isUp(): boolean;
  /** The upstream's SETTINGS (its preface) came: false, no HTTP/2 server has said a word yet. */
  readonly prefaceCame: boolean;
  /** A stream got no answer in time: the session checks that the connection itself still answers. */
  stalled(): void;
  /** The largest request head the upstream takes, as its SETTINGS_MAX_HEADER_LIST_SIZE says (Infinity: it said none). */
  peerHeaderListSize(): number;
  remoteAddress(): string | undefined;
  remotePort(): number | undefined;
}
