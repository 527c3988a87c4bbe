/**
 * What a response head's framing fields say (Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive), read in one pass over its fields. One per parser, read again at each head: its
 * fields rather than a result object, so that a head allocates nothing extra.
 */
import { keepAliveParam } from './keep-alive.ts';
import { parseContentLength } from './response-rules.ts';
import { nameIs, snippet, trimOws } from './syntax.ts';

export class ResponseFramingFields {
  /** The Content-Length, -1 for none (or none valid). */
  contentLength = -1;
  /** Content-Length fields seen, and whether the first one was already in canonical form. */
  lengthFields = 0;
  lengthCanonical = true;
  lengthError: string | undefined = undefined;
  /** Transfer-Encoding values, all fields' members in order (RFC 9110 §5.3: one list). */
  te: string | undefined = undefined;
  close = false;
  keepAliveToken = false;
  keepAliveTimeout = -1;
  keepAliveMax = -1;

  /** Reads the fields of one head (flat name, value pairs), forgetting the last head's. */
  read(headers: readonly string[]): void {
    this.contentLength = -1;
    this.lengthFields = 0;
    this.lengthCanonical = true;
    this.lengthError = undefined;
    this.te = undefined;
    this.close = false;
    this.keepAliveToken = false;
    this.keepAliveTimeout = -1;
    this.keepAliveMax = -1;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      switch (name.length) {
        case 10:
          if (nameIs(name, 'connection')) {
            const value = headers[i + 1];
            // The usual single option first, without allocating a lowercase copy.
            if (nameIs(value, 'close')) this.close = true;
            else if (nameIs(value, 'keep-alive')) this.keepAliveToken = true;
            else
              for (const token of value.toLowerCase().split(',')) {
                const t = trimOws(token);
                if (t === 'close') this.close = true;
                else if (t === 'keep-alive') this.keepAliveToken = true;
              }
          } else if (nameIs(name, 'keep-alive')) {
            // Every field line read: `Keep-Alive: timeout=5` and `Keep-Alive: max=9` are one list.
            this.keepAliveTimeout = keepAliveParam(headers[i + 1], 'timeout', this.keepAliveTimeout);
            this.keepAliveMax = keepAliveParam(headers[i + 1], 'max', this.keepAliveMax);
          }
          break;
        case 14:
          // Checked on every status, a HEAD's or a 304's too: the field is forwarded, and a
          // downstream parser refuses a malformed or conflicting one whatever the status.
          if (nameIs(name, 'content-length')) this.#contentLength(headers[i + 1]);
          break;
        case 17:
          if (nameIs(name, 'transfer-encoding')) {
            this.te = this.te === undefined ? headers[i + 1] : `${this.te},${headers[i + 1]}`;
          }
          break;
      }
    }
  }

  #contentLength(value: string): void {
    this.lengthFields++;
    if (this.lengthError !== undefined) return;
    const n = parseContentLength(value);
    if (n === -1) this.lengthError = `invalid Content-Length ${snippet(value)}`;
    else if (n === -2) this.lengthError = `Content-Length ${snippet(value)} is too large`;
    else if (n === -3 || (this.contentLength !== -1 && n !== this.contentLength))
      this.lengthError = 'conflicting Content-Length values';
    else {
      this.contentLength = n;
      if (this.lengthFields === 1 && value !== String(n)) this.lengthCanonical = false;
    }
  }
}
