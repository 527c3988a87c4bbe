/**
 * The words of an upstream response's faults, as its failure's details say them: they go out in
 * the gateway's own answer (Proxy-Status, grpc-message) and its log line. The response parser
 * (answer-parser.ts) finds what is wrong; this says it.
 */
import { Failure } from '../failure/failure.ts';
import { type FieldError, MAX_FIELDS } from './field-lines.ts';
import { IDENTIFY_BYTES, identify, UNKNOWN_SPEAKER } from './impostors.ts';
import { snippet } from './syntax.ts';

/** A field line's fault (but `too-many`: a size failure), in the words of a response's failure. */
export function fieldFaultDetails({ fault, name, line }: FieldError): string {
  // A name is quoted cut short (snippet): its length is the upstream's to choose, up to the head
  // limit, and the details go out in the gateway's own answer (Proxy-Status, grpc-message), which
  // a client must still be able to read (Node's own takes a 16 KiB head, gRPC suggests 8 KiB).
  let details: string;
  switch (fault) {
    case 'bare-lf':
      details =
        name === ''
          ? 'bare LF line ending in a header line'
          : `bare LF line ending in header ${snippet(name)}`;
      break;
    case 'leading-whitespace':
      details = 'whitespace before the first header field';
      break;
    case 'obs-fold':
      details = `whitespace folding (obs-fold) in header ${snippet(name)}`;
      break;
    case 'no-colon':
      details = `header line without a colon ${snippet(line)}`;
      break;
    case 'empty-name':
      details = 'empty header name';
      break;
    case 'invalid':
      details = 'invalid header section';
      break;
    case 'invalid-value':
      details = `invalid character in the value of header ${snippet(name)}`;
      break;
    case 'bare-cr': {
      // A CR is no line end in a response's field, but an invalid character where it stands.
      const colon = line.indexOf(':');
      details =
        name !== ''
          ? `invalid character in the value of header ${snippet(name)}`
          : colon === -1
            ? `header line without a colon ${snippet(line)}`
            : `invalid header name ${snippet(line.slice(0, colon))}`;
      break;
    }
    default:
      details = `invalid header name ${snippet(name)}`;
  }
  return details;
}

/**
 * The answer is not HTTP/1.x: what sent it instead, when its first bytes say (an HTTP/2-only
 * server, TLS, SSH, Redis…: impostors.ts), so the 502's details name the likely fix.
 */
export function notHttpDetails(first: Buffer): string {
  // The bytes so far, not the whole answer: the parser fails at the first one that is not HTTP.
  const who = identify(first.subarray(0, IDENTIFY_BYTES), false);
  // ASCII only: Proxy-Status's sf-string writes any other character as '?'.
  const named =
    who.what === UNKNOWN_SPEAKER ? '' : `: ${who.what} answered (${who.evidence.replaceAll('…', '...')})`;
  return `invalid status line: the response does not start with "HTTP/"${named}`;
}

/** A field line's fault as a response's failure (of its head, or of its trailer section). */
export function fieldFailure(error: FieldError, inTrailers: boolean): Failure {
  if (error.fault !== 'too-many') return new Failure('http_protocol_error', fieldFaultDetails(error));
  return tooManyFields(inTrailers);
}

/** A response head (or trailer section) of more than MAX_FIELDS fields, over HTTP/1.1 or HTTP/2. */
export function tooManyFields(inTrailers: boolean): Failure {
  return inTrailers
    ? new Failure('http_response_trailer_section_size', `more than ${MAX_FIELDS} trailer fields`)
    : new Failure('http_response_header_section_size', `more than ${MAX_FIELDS} header fields`);
}

/** A response head (or trailer section) past the gateway's `limits.header_size` (`bound` bytes). */
export function sectionPastBound(bound: number, inTrailers: boolean): Failure {
  return inTrailers
    ? new Failure('http_response_trailer_section_size', `response trailer section larger than ${bound} bytes`)
    : new Failure('http_response_header_section_size', `response header section larger than ${bound} bytes`);
}
