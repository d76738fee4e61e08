// forms.js builds labelled form fields and shows the API's problem+json errors next to the
// field at fault (the problem's errors[].field is the input's name), with a summary at the top
// of the form for what no field shows.
import {h, append, taskLinks} from './dom.js';

let seq = 0;

function fieldId(name) {
  seq += 1;
  return `f${seq}-${String(name).replace(/[^A-Za-z0-9]+/g, '-')}`;
}

function describedBy(control, id) {
  const ids = new Set((control.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean));
  ids.add(id);
  control.setAttribute('aria-describedby', [...ids].join(' '));
}

function errorSlot(id) {
  return h('p', {class: 'field-error', id: `${id}-error`, hidden: true});
}

/**
 * field returns a labelled input, select or textarea with its hint and error slot.
 * opts: label, name, type, value, required, hint, options ([value, label] pairs or strings),
 * attrs (extra attributes), wide (spans the form's grid).
 */
export function field(opts) {
  const {label, name, type = 'text', value, required, hint, options, attrs = {}, wide} = opts;
  const id = opts.id || fieldId(name);
  let control;
  if (options) {
    control = h('select', {id, name, required, ...attrs},
      options.map(o => {
        const [v, l] = Array.isArray(o) ? o : [o, o];
        return h('option', {value: v}, l);
      }));
  } else if (type === 'textarea') {
    control = h('textarea', {id, name, required, ...attrs});
  } else {
    control = h('input', {id, name, type, required, ...attrs});
  }
  if (value !== undefined && value !== null) control.value = String(value);
  const hintEl = hint ? h('p', {class: 'hint', id: `${id}-hint`}, hint) : null;
  if (hintEl) describedBy(control, hintEl.id);
  return h('div', {class: ['field', wide && 'wide']},
    h('label', {for: id}, label, required ? h('span', {class: 'req', 'aria-hidden': 'true'}, ' *') : null),
    hintEl, control, errorSlot(id));
}

/** checkbox returns a labelled checkbox. */
export function checkbox({label, name, checked, hint}) {
  const id = fieldId(name);
  const input = h('input', {type: 'checkbox', id, name, checked});
  const hintEl = hint ? h('span', {class: 'hint', id: `${id}-hint`}, hint) : null;
  if (hintEl) describedBy(input, hintEl.id);
  return h('div', {class: 'field check'}, input, h('label', {for: id}, label), hintEl, errorSlot(id));
}

/** radios returns a fieldset of radio buttons; choices are [value, label] pairs. */
export function radios({legend, name, choices, value, cls}) {
  const first = fieldId(name);
  const inputs = choices.map(([v, l, extra], i) => {
    const id = i === 0 ? first : `${first}-${i}`;
    return h('span', {class: ['radio', cls && `${cls}-${v}`]},
      h('input', {type: 'radio', id, name, value: v, checked: v === value}),
      h('label', {for: id}, l, extra ? h('span', {class: 'sub'}, extra) : null));
  });
  return h('fieldset', {class: ['field', 'radios', cls]},
    h('legend', {}, legend), h('div', {class: 'radio-row'}, inputs), errorSlot(first));
}

/** formShell returns a <form> with an error summary at its top; submit calls onSubmit. */
export function formShell({label, onSubmit, cls}) {
  const summary = h('div', {class: 'form-errors', role: 'alert', tabindex: '-1', hidden: true});
  const form = h('form', {class: ['form', cls], 'aria-label': label, novalidate: true}, summary);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const submit = form.querySelector('button[type="submit"]');
    if (form.getAttribute('aria-busy') === 'true') return;
    form.setAttribute('aria-busy', 'true');
    if (submit) submit.disabled = true;
    try {
      clearErrors(form);
      await onSubmit(form);
    } catch (err) {
      showErrors(form, err);
    } finally {
      form.removeAttribute('aria-busy');
      if (submit) submit.disabled = false;
    }
  });
  return form;
}

/** values reads the form's named controls into an object (checkboxes as booleans). */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.type === 'radio') { if (el.checked) out[el.name] = el.value; }
    else if (el.type !== 'file') out[el.name] = el.value.trim();
  }
  return out;
}

/** clearErrors removes the errors shown on the form. */
export function clearErrors(form) {
  form.querySelectorAll('[aria-invalid="true"]').forEach(el => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.field-error').forEach(el => { el.replaceChildren(); el.hidden = true; });
  const sum = form.querySelector('.form-errors');
  if (sum) { sum.replaceChildren(); sum.hidden = true; }
}

function control(form, name) {
  let n = name;
  for (;;) {
    const el = form.querySelector(`[name="${CSS.escape(n)}"]`);
    if (el) return el;
    // results[2].unit -> results[2] -> results
    const cut = Math.max(n.lastIndexOf('.'), n.lastIndexOf('['));
    if (cut <= 0) return null;
    n = n.slice(0, cut);
  }
}

/** problemText is a one-line account of an error. */
export function problemText(err) {
  if (!err || err.status === undefined) return String(err && err.message ? err.message : err);
  const p = err.problem || {};
  const head = {
    0: 'No answer from the server', 400: 'Please correct the input', 401: 'Sign in again',
    403: 'Your role may not do this', 404: 'Not found', 409: 'Not possible now',
    429: 'Too many requests: wait a moment', 503: 'A service did not answer: try again shortly',
  }[err.status] || p.title || `Error ${err.status}`;
  return p.detail && err.status !== 400 ? `${head}: ${p.detail}` : head;
}

/**
 * showErrors shows err on the form: each field error next to its control (mapped through
 * alias(field) when given), the rest in the summary; focus goes to the first field at fault.
 */
export function showErrors(form, err, alias) {
  clearErrors(form);
  const sum = form.querySelector('.form-errors');
  const fields = (err && err.fields) || [];
  const unmatched = [];
  let first = null;
  for (const fe of fields) {
    const name = alias ? alias(fe.field) : fe.field;
    const ctl = name ? control(form, name) : null;
    const slot = ctl && form.querySelector(`#${CSS.escape(ctl.id)}-error`);
    if (!ctl || !slot) {
      unmatched.push(fe);
      continue;
    }
    ctl.setAttribute('aria-invalid', 'true');
    describedBy(ctl, slot.id);
    append(slot, [h('span', {class: 'msg', dataset: {field: fe.field}}, taskLinks(slot.childNodes.length ? ` ${fe.message}` : fe.message))]);
    slot.hidden = false;
    first = first || ctl;
  }
  if (sum) {
    const matched = fields.length - unmatched.length;
    append(sum, [
      h('p', {class: 'problem-title'}, problemText(err),
        matched ? ` (${matched === 1 ? 'see the field marked below' : `${matched} fields marked below`})` : ''),
      unmatched.length ? h('ul', {}, unmatched.map(fe => h('li', {}, h('code', {}, fe.field), ': ', taskLinks(fe.message)))) : null,
    ]);
    sum.hidden = false;
  }
  if (first) first.focus();
  else if (sum) sum.focus();
}

/** submitRow returns the form's submit button row. */
export function submitRow(label, ...extra) {
  return h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, label), extra);
}
