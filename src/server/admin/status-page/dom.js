// What every part of the status page draws with. Every value goes in as text (textContent),
// never as markup: target URLs, failure details and route names come from configs and
// upstreams, not from this page.

export const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

export const badge = (text, kind = text) => el('span', { class: `badge ${kind}` }, text);

/** Set through the CSSOM: the page's Content-Security-Policy refuses inline style attributes. */
export function swatch(background) {
  const node = el('span', { class: 'swatch' });
  node.style.background = background;
  return node;
}

/**
 * A time in the viewer's zone: alone when it is of the viewer's today, else with its date (a
 * reload, or a store down, since the day before is not read as today's).
 */
export function clock(iso) {
  if (!iso) return '';
  const at = new Date(iso);
  return at.toDateString() === new Date().toDateString()
    ? at.toLocaleTimeString()
    : at.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export const date = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** The line above the data: an action's outcome, or why the gateway's state cannot be read. */
export function showNotice(text, kind, tag = '') {
  const notice = $('notice');
  notice.hidden = text === '';
  notice.textContent = text;
  notice.className = kind;
  notice.dataset.kind = tag;
}
