/**
 * A field name as CGI-style servers key it: WSGI, Rack and PHP read `X-User-Id` and `X_User_Id`
 * both as HTTP_X_USER_ID, so to an app behind the gateway they are one field. A field the
 * gateway writes, or vouches for, goes with every spelling of it the client sent: one left
 * would stand beside the gateway's, or in its place (Puma before 6.4.3: CVE-2024-45614).
 */
export function cgiSpelling(lower: string): string {
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}
