// The checkpoint page (police, bureau), made for a phone: plate and colour in, one large
// colour-coded verdict out (pass / inspect / stop) with every reason, its source and how fresh
// that source's data is; the heavy-pollution alert; the officer's own recent lookups.
import {h, replace, button, announce, panel, problemBox, taskLinks} from '../dom.js';
import {get, seg} from '../api.js';
import {fmtTime, fmtShort, ago, colourName, PLATE_COLOURS, words} from '../format.js';
import {formShell, radios, checkbox} from '../forms.js';
import {alertStrip, restrictionText} from '../alerts.js';

const PROVINCES = '京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新'.split('');

const VERDICTS = {
  pass: {word: 'PASS', icon: '✓', hint: 'No reason to stop this vehicle.'},
  inspect: {word: 'INSPECT', icon: '!', hint: 'Pull the vehicle over and check the reasons below.'},
  stop: {word: 'STOP', icon: '✕', hint: 'Stop the vehicle: it may not be on the road.'},
};

const SOURCES = {registry: 'Vehicle registry', remotesensing: 'Remote sensing', obd: 'OBD telemetry', muck: 'Muck-truck permits', checkpoint: 'Checkpoint'};

function freshness(state, age) {
  switch (state) {
    case 'cached': return `cached, updated ${ago(age)}`;
    case 'fetched': return 'asked just now';
    case 'unknown': return 'did not answer: unknown, not clean';
    case 'skipped': return 'not needed for this vehicle';
    case 'not_found': return 'no record';
    default: return state ? words(state) : '';
  }
}

/** normalise puts the province in front of a plate typed without one, and uppercases it. */
export function normalise(plate, province) {
  const p = String(plate || '').replace(/[\s·.\-]/g, '').toUpperCase();
  if (!p) return '';
  return /^[A-Z0-9]/.test(p) ? province + p : p;
}

function verdictCard(v) {
  const d = VERDICTS[v.verdict] || {word: String(v.verdict).toUpperCase(), icon: '?', hint: ''};
  const reasons = v.reasons || [];
  return h('article', {class: ['verdict', `verdict-${v.verdict}`], dataset: {verdict: v.verdict}, tabindex: '-1', 'aria-labelledby': 'verdict-word'},
    h('div', {class: 'verdict-banner'},
      h('p', {class: 'verdict-word', id: 'verdict-word'}, h('span', {class: 'verdict-icon', 'aria-hidden': 'true'}, d.icon), ' ', d.word),
      h('p', {class: 'verdict-plate'}, h('span', {class: ['plate', `plate-${v.colour}`]}, v.plate), ' ', colourName(v.colour)),
      h('p', {class: 'verdict-hint'}, d.hint)),
    h('div', {class: 'verdict-body'},
      h('h3', {}, reasons.length ? `Reasons (${reasons.length})` : 'Reasons'),
      reasons.length
        ? h('ul', {class: 'reasons'}, reasons.map(r =>
          h('li', {class: ['reason', `sev-${r.severity}`], dataset: {code: r.code}},
            h('span', {class: ['badge', `sev-${r.severity}`]}, String(r.severity).toUpperCase()),
            h('span', {class: 'reason-msg'}, taskLinks(r.message)),
            h('span', {class: 'reason-meta'},
              `Source: ${SOURCES[r.source] || r.source}`,
              r.rule ? [' · ', ...taskLinks(r.rule)] : '',
              r.source_state ? ` · ${freshness(r.source_state, r.source_age_seconds)}` : '',
              ` · ${r.code}`))))
        : h('p', {class: 'none'}, 'None: every source answered and found nothing against this vehicle.'),
      (v.alerts || []).length ? h('div', {class: 'verdict-alerts'}, h('h3', {}, 'Alert in force'),
        v.alerts.map(a => h('p', {}, `${a.level.toUpperCase()}: `, (a.restrictions || []).map(restrictionText).join('; ')))) : null,
      h('h3', {}, 'Sources'),
      h('dl', {class: 'parts'}, (v.parts || []).flatMap(p => [
        h('dt', {}, SOURCES[p.part] || p.part),
        h('dd', {class: `state-${p.state}`, dataset: {part: p.part, state: p.state}}, freshness(p.state, p.age_seconds)),
      ])),
      h('p', {class: 'meta'}, v.vin ? `VIN ${v.vin} · ` : '', `Checked ${fmtTime(v.at)}`)));
}

function render(root, sess) {
  const province = localStorage.getItem('clearsky.province') || document.body.dataset.province || '晋';
  const result = h('section', {class: 'verdict-box', 'aria-label': 'Verdict'});
  const recentList = h('div', {class: 'recent'});

  const plateInput = h('input', {id: 'plate', name: 'plate', type: 'text', required: true,
    autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', enterkeyhint: 'search',
    placeholder: 'F23456', 'aria-describedby': 'plate-hint', maxlength: 12});
  const provinceSelect = h('select', {id: 'province', name: 'province', 'aria-label': 'Province of the plate'},
    PROVINCES.map(p => h('option', {value: p, selected: p === province}, p)));
  provinceSelect.addEventListener('change', () => localStorage.setItem('clearsky.province', provinceSelect.value));

  const form = formShell({
    label: 'Look up a plate',
    cls: 'lookup',
    onSubmit: async f => {
      const plate = normalise(plateInput.value, provinceSelect.value);
      const colour = f.elements.colour.value; // none chosen: the checkpoint looks under every colour
      if (!plate) {
        throw {message: 'The plate is missing', fields: [{field: 'plate', message: 'Type the plate, e.g. F23456.'}]};
      }
      const query = colour ? {colour} : {};
      if (f.elements.position.checked) {
        const pos = await position();
        if (pos) Object.assign(query, pos);
      }
      replace(result, h('p', {class: 'loading', role: 'status'}, `Checking ${plate}…`));
      let v;
      try {
        v = await get(`/v1/checkpoint/${seg(plate)}`, query);
      } catch (err) {
        replace(result);
        throw err;
      }
      const card = verdictCard(v);
      replace(result, card);
      const n = (v.reasons || []).length;
      announce(`${plate}: ${VERDICTS[v.verdict] ? VERDICTS[v.verdict].word : v.verdict}. ${n} reason${n === 1 ? '' : 's'}.`);
      // Close the phone's keyboard and bring the verdict into view.
      card.focus();
      setTimeout(loadRecent, 400);
    },
  });
  form.append(
    h('div', {class: 'field plate-field'},
      h('label', {for: 'plate'}, 'Plate', h('span', {class: 'req', 'aria-hidden': 'true'}, ' *')),
      h('p', {class: 'hint', id: 'plate-hint'}, `Type it with or without the province (${provinceSelect.value}F23456 or F23456).`),
      h('div', {class: 'plate-input'}, provinceSelect, plateInput),
      h('p', {class: 'field-error', id: 'plate-error', hidden: true})),
    radios({legend: 'Plate colour', name: 'colour', choices: PLATE_COLOURS.map(([v, en, zh]) => [v, en, ` ${zh}`]), value: 'yellow', cls: 'colour'}),
    checkbox({label: 'Send my position (for zoned alerts and muck passes)', name: 'position'}),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary big'}, 'Check')));

  async function loadRecent() {
    try {
      const res = await get('/v1/lookups/mine', {limit: 10});
      const items = res.items || [];
      if (!items.length) {
        replace(recentList, h('p', {class: 'none'}, 'No lookups yet.'));
        return;
      }
      replace(recentList, h('ol', {class: 'recent-list'}, items.map(l =>
        h('li', {dataset: {verdict: l.verdict}},
          button([h('span', {class: ['plate', `plate-${l.colour}`]}, l.plate),
            h('span', {class: ['badge', `v-${l.verdict}`]}, String(l.verdict).toUpperCase()),
            h('time', {class: 'when', datetime: l.at}, fmtShort(l.at))], () => {
            const m = /^(\p{Script=Han})(.*)$/u.exec(l.plate);
            if (m && PROVINCES.includes(m[1])) {
              provinceSelect.value = m[1];
              plateInput.value = m[2];
            } else {
              plateInput.value = l.plate;
            }
            const radio = form.querySelector(`input[name="colour"][value="${CSS.escape(l.colour)}"]`);
            if (radio) radio.checked = true;
            form.requestSubmit();
          }, {class: 'recent-item', 'aria-label': `Check ${l.plate} ${colourName(l.colour)} again (was ${l.verdict} at ${fmtTime(l.at)})`})))));
    } catch (err) {
      replace(recentList, problemBox(err, 'Your recent lookups'));
    }
  }

  const recent = panel('My recent lookups', {id: 'recent', actions: [button('Refresh', loadRecent)]});
  recent.body.append(recentList);
  root.append(
    alertStrip(),
    h('section', {class: 'panel lookup-panel', 'aria-labelledby': 'cp-title'},
      h('h1', {id: 'cp-title'}, 'Checkpoint'),
      form),
    result,
    recent.el);
  loadRecent();
  plateInput.focus();
}

function position() {
  return new Promise(resolve => {
    if (!navigator.geolocation) { resolve(null); return; }
    navigator.geolocation.getCurrentPosition(
      p => resolve({lat: p.coords.latitude.toFixed(6), lon: p.coords.longitude.toFixed(6)}),
      () => { announce('Position not available: checking without it.'); resolve(null); },
      {timeout: 4000, maximumAge: 60000});
  });
}

export default {id: 'checkpoint', title: 'Checkpoint', roles: ['police', 'bureau'], render};
