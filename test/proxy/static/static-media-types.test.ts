/**
 * routes[].static's media types for what a video or audio page serves beside its HTML: the
 * captions a `<track>` loads (WebVTT, which a browser loads only as `text/vtt`: sent as
 * `application/octet-stream` with `nosniff`, the captions never showed), the playlists of HLS
 * and DASH, and the other common containers. Each as nginx's mime.types names it.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const root = tempDir('candor-static-media-');
after(() => rmSync(root, { recursive: true, force: true }));

test('captions, playlists, media containers, calendars, linked data and YAML are served with their own types, never octet-stream', async (t) => {
  const types: [string, string][] = [
    ['captions.en.vtt', 'text/vtt; charset=utf-8'],
    ['stream.m3u8', 'application/vnd.apple.mpegurl'],
    ['stream.mpd', 'application/dash+xml'],
    ['clip.m4v', 'video/mp4'],
    ['clip.mov', 'video/quicktime'],
    ['clip.ogv', 'video/ogg'],
    ['sound.oga', 'audio/ogg'],
    ['sound.opus', 'audio/ogg'],
    ['sound.flac', 'audio/flac'],
    ['sound.aac', 'audio/aac'],
    ['sound.weba', 'audio/webm'],
    ['events.ics', 'text/calendar; charset=utf-8'],
    ['data.jsonld', 'application/ld+json'],
    ['page.xhtml', 'application/xhtml+xml'],
    ['spinner.apng', 'image/apng'],
    ['openapi.yaml', 'application/yaml'],
    ['openapi.yml', 'application/yaml'],
  ];
  for (const [name] of types) writeFileSync(join(root, name), 'BYTES');
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    static: { root: ${root} }
`);
  t.after(() => gw.close());
  for (const [name, type] of types) {
    const res = await request(gw.url, { path: `/${name}` });
    assert.equal(res.status, 200, name);
    assert.equal(res.headers['content-type'], type, name);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', name);
  }
});
