import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';

/** Where a config file stops being UTF-8: the offset in its decoded text, and the byte found there. */
export interface Undecodable {
  /** Index in the decoded text (UTF-16 units, as the YAML parser counts) of the U+FFFD standing in for it. */
  readonly offset: number;
  readonly byte: number;
}

/**
 * The first byte of `bytes` that is not UTF-8, found in `text` (the bytes decoded with
 * replacement). Decoding puts U+FFFD in place of each such byte, silently: a file saved as
 * Latin-1 would send "l\ufffduft" to clients where its editor shows "läuft". A U+FFFD written
 * in the file itself (its three bytes EF BF BD) is text like any other.
 */
export function firstUndecodable(bytes: Buffer, text: string): Undecodable | undefined {
  if (isUtf8(bytes)) return undefined;
  let at = 0;
  for (let offset = 0; offset < text.length; offset++) {
    const code = text.codePointAt(offset) as number;
    if (code === 0xfffd && !(bytes[at] === 0xef && bytes[at + 1] === 0xbf && bytes[at + 2] === 0xbd))
      return { offset, byte: bytes[at] as number };
    // Bytes before the first invalid one are valid UTF-8, so each character's length is exact.
    at += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (code > 0xffff) offset++;
  }
  return undefined;
}

/** What a config file's first byte that is not UTF-8 is told as, at its line and field. */
export const NOT_UTF8 = (byte: number): string =>
  `the file is not UTF-8 here: byte 0x${byte.toString(16).padStart(2, '0')} is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save the file as UTF-8`;

/** Whether a problem is NOT_UTF8's: told first at its field, which then quotes no U+FFFD (load.ts). */
export const isNotUtf8 = (message: string): boolean => message.startsWith('the file is not UTF-8 here: ');

/**
 * What a fleet's document's first byte that is not UTF-8 is told as (its value under the etcd
 * key, or the file pushed), at its line and field: the same refusal a config file gets.
 */
export const DOCUMENT_NOT_UTF8 = (byte: number): string =>
  `the document is not UTF-8 here: byte 0x${byte.toString(16).padStart(2, '0')} is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save it as UTF-8 and push it again`;

/**
 * A file's text without the byte order mark some editors (Windows') write first: `Buffer.toString`
 * keeps it, JSON.parse refuses it (RFC 8259 §8.1 lets a parser ignore it), and an error page
 * would send it as the body's first character.
 */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A UTF-8 file's text (one the checks read whole already), without its byte order mark. */
export function fileText(path: string): string {
  return withoutBom(readFileSync(path, 'utf8'));
}
