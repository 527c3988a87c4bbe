/**
 * The few RFC 8941 structured-field serialisations Proxy-Status needs.
 * Serialising by hand keeps the hot path free of a general-purpose library.
 */

const TOKEN = /^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/;

/** An sf-string: printable ASCII only; anything else becomes "?" so the header stays valid. */
export function sfString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += '\\' + value[i];
    else if (c < 0x20 || c > 0x7e) out += '?';
    else out += value[i];
  }
  return out + '"';
}

/** A bare item that is a token when it can be, else a string (Proxy-Status member names allow both). */
export function sfTokenOrString(value: string): string {
  return TOKEN.test(value) ? value : sfString(value);
}
