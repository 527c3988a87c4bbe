/**
 * Names that say their value is a credential: a query parameter (`api_key`, `access_token`, S3's
 * `X-Amz-Signature`…) or a header field (Authorization, Cookie, `X-Api-Key`…). What a tool or
 * the client reports (a URL in an error, a request it sent) shows such a value as `***`: those
 * reports end in logs and tickets.
 */
const CREDENTIAL_WORD =
  /(?:token|key|secret|pass|passwd|password|passphrase|pwd|sig|signature|credentials?|auth|authorization|session|sessionid|sessid|cookie|jwt|hmac)$/;

/**
 * Judged word by word (split at what is not a letter or a digit, and where a lower-case letter
 * meets a capital: `accessToken`, `X-Amz-Signature`), each word by how it ends (`apikey`,
 * `oauth`): a search's `keyword`, an `author` or a `signup` is no credential, where the name's
 * letters anywhere in it (`key`, `auth`, `sig`) masked them in every log line. OAuth's `code`
 * is one as the whole name only.
 */
export function isCredentialName(name: string): boolean {
  if (name.toLowerCase() === 'code') return true;
  for (const word of name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[^A-Za-z0-9]+/))
    if (word !== '' && CREDENTIAL_WORD.test(word.toLowerCase())) return true;
  return false;
}

/**
 * `target` (a request target, a URL's `search`) with the value of each query parameter whose
 * name says it is a credential written `***`, every name and the order kept: what a log line
 * quotes of a request (RFC 6750 §2.3: a bearer token in the URI ends in logs). A name is judged
 * as it reads (`%6Bey`, `+` for a space decoded); a parameter without a value stays as it is.
 * Without a `?`, or with no such parameter, `target` itself, nothing made: the common request's
 * cost is one indexOf.
 */
export function withCredentialsMasked(target: string): string {
  const query = target.indexOf('?');
  if (query === -1) return target;
  let shown: string | undefined;
  let copied = 0;
  let start = query + 1;
  while (start < target.length) {
    let end = target.indexOf('&', start);
    if (end === -1) end = target.length;
    const equals = target.indexOf('=', start);
    if (equals !== -1 && equals < end - 1 && isCredentialName(parameterName(target.slice(start, equals)))) {
      shown = `${shown ?? ''}${target.slice(copied, equals + 1)}***`;
      copied = end;
    }
    start = end + 1;
  }
  return shown === undefined ? target : shown + target.slice(copied);
}

/** A query parameter's name as it reads: `+` a space, escapes decoded (one malformed: as written). */
function parameterName(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw;
  }
}
