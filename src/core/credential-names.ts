/**
 * Names that say their value is a credential: a query parameter (`api_key`, `access_token`, S3's
 * `X-Amz-Signature`…) or a header field (Authorization, Cookie, `X-Api-Key`…). What a tool or
 * the client reports (a URL in an error, a request it sent) shows such a value as `***`: those
 * reports end in logs and tickets.
 */
const CREDENTIAL_NAME = /token|key|secret|pass|pwd|sig|credential|auth|session|cookie|^code$/i;

export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}
