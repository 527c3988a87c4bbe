import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';

/**
 * The most of a user's name the log and the identity field carry: a name past it (a JWT's claim
 * can be 16 KiB, Basic's user 4 KiB) is no one's, and the request goes on with no identity.
 */
const MAX_IDENTITY = 256;
/**
 * What a request field can carry as it is: printable ASCII (a UTF-8 name is logged, not sent),
 * without a space at either end, which every HTTP parser takes off (RFC 9110 §5.5): sent, a
 * token's `sub` or `preferred_username` of " admin" reached the app as the user "admin".
 */
const FIELD_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** The name an authentication admitted, if it is one the gateway will write: a string, not empty, bounded. */
export function identityOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value.length <= MAX_IDENTITY ? value : undefined;
}

/**
 * The edit of the request sent upstream that tells it the user in `header` (`auth.identity_header`):
 * every copy the client sent, in any spelling a CGI-style app reads as the same field
 * (cgi-spelling.ts), dropped first, whether or not there is a user to tell, so no client names
 * itself; then the user, when there is one a field can carry. After `then`, the access rules'
 * own edit (credentials dropped, claims or the service's fields in).
 */
export function identityEdit(
  header: string,
  identity: string | undefined,
  then: AnswerEdit | undefined,
): AnswerEdit {
  const spelling = cgiSpelling(header);
  const told = identity !== undefined && FIELD_VALUE.test(identity) ? identity : undefined;
  return (headers) => {
    const edited = then === undefined ? headers : then(headers);
    const out: string[] = [];
    for (let i = 0; i < edited.length; i += 2)
      if (cgiSpelling(edited[i].toLowerCase()) !== spelling) out.push(edited[i], edited[i + 1]);
    if (told !== undefined) out.push(header, told);
    return out;
  };
}
