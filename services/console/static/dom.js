// dom.js builds DOM nodes. Text always goes in as text nodes (textContent), never through the
// HTML parser: data from the API cannot inject markup. There is no innerHTML in the console.

const SVG_NS = 'http://www.w3.org/2000/svg';
const BOOLEAN_PROPS = new Set(['checked', 'selected', 'disabled', 'hidden', 'required', 'multiple', 'open', 'readOnly']);

/** h creates an HTML element: h('p', {class: 'x'}, 'text', child, [more]). */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children, false);
}

/** s creates an SVG element. */
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children, true);
}

function build(el, props, children, svg) {
  let value;
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') {
      const c = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      if (c) el.setAttribute('class', c);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv);
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'value' && !svg) {
      value = v;
    } else if (BOOLEAN_PROPS.has(k) && !svg) {
      el[k] = true;
    } else if (k === 'style' || k === 'innerHTML' || k === 'outerHTML') {
      throw new Error(`dom: ${k} is not allowed`);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  if (value !== undefined) el.value = String(value);
  return el;
}

/** append adds children (nodes, strings, numbers, nested arrays; null and false are skipped). */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** replace empties el and appends children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** announce says msg to screen readers through the page's polite live region. */
export function announce(msg) {
  let region = document.getElementById('announcer');
  if (!region) {
    region = h('div', {id: 'announcer', class: 'sr-only', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true'});
    document.body.append(region);
  }
  region.textContent = '';
  // A fresh text node after a tick makes screen readers read a repeated message again.
  setTimeout(() => { region.textContent = msg; }, 50);
}

/** section returns a titled panel with an optional toolbar; its body is returned too. */
export function panel(title, {id, level = 2, actions = [], intro} = {}) {
  const headingId = (id || title.toLowerCase().replace(/[^a-z0-9]+/g, '-')) + '-title';
  const body = h('div', {class: 'panel-body'});
  const el = h('section', {class: 'panel', id, 'aria-labelledby': headingId},
    h('div', {class: 'panel-head'},
      h(`h${level}`, {id: headingId}, title),
      actions.length ? h('div', {class: 'panel-actions'}, actions) : null),
    intro ? h('p', {class: 'intro'}, taskLinks(intro)) : null,
    body);
  return {el, body};
}

/** loading returns a placeholder shown while data loads. */
export function loading(what) {
  return h('p', {class: 'loading', role: 'status'}, `Loading ${what}…`);
}

/** problemBox shows an API error where data would have been. */
export function problemBox(err, what) {
  const status = err && err.status;
  let msg;
  if (status === 404 && err.problem && /no route/.test(err.problem.detail || '')) {
    msg = `${what} is not available on this server (the service is not installed).`;
  } else if (status === 403) {
    msg = `Your role may not see ${what}.`;
  } else {
    msg = `${what} could not be loaded: ${err ? err.message : 'unknown error'}`;
  }
  return h('p', {class: 'problem', role: 'alert'}, msg);
}

/** button makes a <button type="button">. */
export function button(label, onclick, props = {}) {
  return h('button', {type: 'button', onclick, ...props}, label);
}

const TASKS = /\b([Tt]asks?) (\d+(?:(?:, | and )\d+)*)/g;

/**
 * taskLinks returns text as nodes, every "task N" (or "tasks N, M and K") in it a link to the
 * action plan's task on the policy page.
 */
export function taskLinks(text) {
  const s = String(text ?? '');
  const out = [];
  let last = 0;
  for (const m of s.matchAll(TASKS)) {
    out.push(s.slice(last, m.index));
    const nums = m[2].split(/(, | and )/);
    if (nums.length === 1) {
      out.push(h('a', {class: 'task-link', href: `/policy#task-${m[2]}`}, `${m[1]} ${m[2]}`));
    } else {
      out.push(`${m[1]} `);
      for (const n of nums) out.push(/^\d+$/.test(n) ? h('a', {class: 'task-link', href: `/policy#task-${n}`}, n) : n);
    }
    last = m.index + m[0].length;
  }
  out.push(s.slice(last));
  return out.filter(x => x !== '');
}
