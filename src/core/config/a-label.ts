import { domainToASCII } from 'node:url';

/** Only ASCII: a name any field that takes one may hold as it is. */
const ASCII = /^[\x20-\x7e]*$/;

/**
 * The advice for a name written in Unicode where a host name is expected (a route's host, an
 * ACME name, a DNS-01 zone): to write its A-label (`xn--`) form, what a client sends in its Host
 * and its SNI (RFC 5890, UTS #46 as the WHATWG URL reads it). Not converted for the operator: a
 * route or a certificate under a name the config does not say as its clients do is a surprise in
 * every log line and `/status` row after, and nginx's `server_name` takes only the A-label too.
 * Given only when that form is one the field takes (`takes`); else the empty string.
 *
 * @example aLabelAdvice('bücher.example', isName) // ' (a name outside ASCII is written in its A-label form, as clients send it: "xn--bcher-kva.example")'
 */
export function aLabelAdvice(value: unknown, takes: (ascii: string) => boolean): string {
  if (typeof value !== 'string' || ASCII.test(value)) return '';
  // A port after the name (a route's host may have one) is no part of the name.
  const [, name, port = ''] = /^(.*?)(:\d+)?$/s.exec(value) as RegExpExecArray;
  const label = domainToASCII(name);
  const ascii = `${label}${port}`;
  if (label === '' || !ASCII.test(ascii) || !takes(ascii)) return '';
  return ` (a name outside ASCII is written in its A-label form, as clients send it: ${JSON.stringify(ascii)})`;
}
