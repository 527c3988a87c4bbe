import type { JWTPayload } from 'jose';
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';

/**
 * A claim sent upstream as a field must fit one as it is: printable ASCII, bounded, without a
 * space at either end, which the upstream's parser takes off (" admin" would arrive as "admin").
 */
const FIELD_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]{0,1022}[\x21-\x7e])?)?$/;
/**
 * An element of a list claim that reads back as itself once the app splits the joined field at
 * its commas and trims each part: not empty, no comma, no space at either end. A group named
 * `staff, admin` would otherwise be read as two, `admin` among them.
 */
const LIST_ELEMENT = /^[^\s,](?:[^,]*[^\s,])?$/;

/**
 * `claims_to_headers` (a JWT's, an OpenID Connect session's): the claims a request's token or
 * session holds, told upstream as request fields, the client's own copy of each field removed in
 * every spelling (a client's `X_User_Id` is `X-User-Id` to a CGI-style app: cgi-spelling.ts).
 */
export class ClaimFields {
  readonly #mapping: readonly { readonly claim: string; readonly header: string }[];
  readonly #names: ReadonlySet<string>;

  constructor(mapping: readonly { readonly claim: string; readonly header: string }[]) {
    this.#mapping = mapping;
    this.#names = new Set(mapping.map(({ header }) => cgiSpelling(header.toLowerCase())));
  }

  /** Whether no claim is told (the edit would change nothing). */
  get empty(): boolean {
    return this.#mapping.length === 0;
  }

  /** Whether `lower` (a field name in lower case) is one of the fields, in any spelling. */
  has(lower: string): boolean {
    return this.#names.has(cgiSpelling(lower));
  }

  /**
   * The fields for `claims`, as name, value pairs: text as it is, a list of text joined with
   * `, ` (none when an element would not read back as itself: LIST_ELEMENT), another value as
   * JSON; a value no field can carry left out rather than sent mangled.
   */
  values(claims: JWTPayload): string[] {
    const added: string[] = [];
    for (const { claim, header } of this.#mapping) {
      // The token's own claim only: `constructor` or `toString` read through would be Object's.
      const value = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
      if (value === undefined || value === null) continue;
      const text =
        typeof value === 'string'
          ? value
          : Array.isArray(value) && value.every((v) => typeof v === 'string')
            ? listText(value)
            : JSON.stringify(value);
      if (text === undefined) continue;
      if (FIELD_VALUE.test(text)) added.push(header, text);
    }
    return added;
  }

  /** The edit of the upstream request that drops the client's copies, then tells `claims` (after `before`). */
  edit(claims: JWTPayload, before: AnswerEdit): AnswerEdit {
    const added = this.values(claims);
    return (headers) => {
      const kept = before(headers);
      const out: string[] = [];
      for (let i = 0; i < kept.length; i += 2)
        if (!this.has(kept[i].toLowerCase())) out.push(kept[i], kept[i + 1]);
      out.push(...added);
      return out;
    };
  }
}

/** A list claim's elements joined with `, `; undefined when one would not read back as itself once split. */
function listText(values: readonly string[]): string | undefined {
  for (const v of values) if (!LIST_ELEMENT.test(v)) return undefined;
  return values.join(', ');
}
