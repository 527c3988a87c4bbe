/**
 * The media type of a static file, from its extension: a small table of what a web site serves
 * (a library such as mime-types knows a thousand more, and would be a dependency for them).
 * Anything else is `application/octet-stream`, which a browser downloads rather than renders;
 * every answer carries `X-Content-Type-Options: nosniff` so no browser guesses otherwise.
 */
const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  webmanifest: 'application/manifest+json',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  xml: 'application/xml',
  rss: 'application/rss+xml',
  atom: 'application/atom+xml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/vnd.microsoft.icon',
  bmp: 'image/bmp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  ogv: 'video/ogg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  flac: 'audio/flac',
  weba: 'audio/webm',
  // A `<track>`'s captions load only as text/vtt: as octet-stream (nosniff) they never show.
  vtt: 'text/vtt; charset=utf-8',
  // A calendar a page offers to subscribe to, linked data a page loads, XHTML, animated PNG, and
  // YAML (RFC 9512): as octet-stream (nosniff) a browser downloads them, or a script refuses them.
  ics: 'text/calendar; charset=utf-8',
  jsonld: 'application/ld+json',
  xhtml: 'application/xhtml+xml',
  apng: 'image/apng',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  // The playlists of HLS and DASH streams.
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
};

/** The media type of a file named `name`. */
export function mediaTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  const extension = dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
  return TYPES[extension] ?? 'application/octet-stream';
}
