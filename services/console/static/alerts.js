// alerts.js: the heavy-pollution alert in force (for everyone who may read it) and the bureau's
// control to declare and lift one (POST /v1/alerts, POST /v1/alerts/{id}/end).
import {h, replace, button, announce, panel, problemBox} from './dom.js';
import {get, post, seg} from './api.js';
import {fmtTime, inputValue, fromInput} from './format.js';
import {field, radios, formShell, submitRow, problemText} from './forms.js';

const LEVELS = [['yellow', 'Yellow', '黄色预警'], ['orange', 'Orange', '橙色预警'], ['red', 'Red', '红色预警']];

/** restrictionText describes one restriction of an alert. */
export function restrictionText(r) {
  const what = {heavy_diesel: 'heavy diesel trucks', bulk_material: 'bulk-material (muck) trucks', any: 'all vehicles'}[r.class] || r.class;
  let t = `${what}${r.max_standard ? ` of China ${r.max_standard} and below` : ''} barred`;
  if (r.zone_name || r.zone) t += ` in ${r.zone_name || 'a zone'}`;
  if (r.hours) t += `, ${r.hours.from}–${r.hours.to}`;
  return t;
}

/** alertSummary renders one alert. */
export function alertSummary(a) {
  return h('div', {class: ['alert', `alert-${a.level}`], dataset: {level: a.level}},
    h('p', {class: 'alert-head'},
      h('strong', {}, `${a.level.toUpperCase()} alert`),
      ` in force ${fmtTime(a.starts_at)} – ${fmtTime(a.ends_at)}`),
    a.reason ? h('p', {}, a.reason) : null,
    (a.restrictions || []).length ? h('ul', {class: 'restrictions'}, a.restrictions.map(r => h('li', {}, restrictionText(r)))) : null);
}

/** alertStrip returns an element showing the alerts in force, loaded from the API. */
export function alertStrip() {
  const el = h('section', {class: 'alert-strip', 'aria-label': 'Heavy-pollution alert', 'aria-live': 'polite'},
    h('p', {class: 'loading'}, 'Checking the heavy-pollution alert…'));
  get('/v1/alerts').then(res => {
    const cur = res.current || [];
    if (!cur.length) replace(el, h('p', {class: 'alert alert-none'}, 'No heavy-pollution alert in force.'));
    else replace(el, cur.map(alertSummary));
  }, err => replace(el, problemBox(err, 'The heavy-pollution alert')));
  return el;
}

/** alertControl is the bureau's panel: alerts in force with "Lift now", and a declaration form. */
export function alertControl() {
  const {el, body} = panel('Heavy-pollution alert', {id: 'alert-control',
    intro: 'Declare a yellow, orange or red alert (tasks 27 and 28): the checkpoint applies the level\'s default restrictions on heavy diesel and bulk-material trucks at once.'});
  const current = h('div', {class: 'alert-current', 'aria-live': 'polite'});
  const form = formShell({
    label: 'Declare an alert',
    onSubmit: async f => {
      const v = {level: f.elements.level.value, starts_at: fromInput(f.elements.starts_at.value),
        ends_at: fromInput(f.elements.ends_at.value), reason: f.elements.reason.value.trim()};
      const body = {level: v.level || undefined, starts_at: v.starts_at || undefined, ends_at: v.ends_at || undefined, reason: v.reason || undefined};
      const a = await post('/v1/alerts', body);
      announce(`${a.level} alert declared`);
      await load();
    },
  });
  const now = new Date();
  form.append(
    radios({legend: 'Level', name: 'level', choices: LEVELS, value: 'orange', cls: 'level'}),
    h('div', {class: 'grid2'},
      field({label: 'Starts (China time)', name: 'starts_at', type: 'datetime-local', required: true, value: inputValue(now)}),
      field({label: 'Ends (China time)', name: 'ends_at', type: 'datetime-local', required: true, value: inputValue(new Date(now.getTime() + 48 * 3600e3))})),
    field({label: 'Reason', name: 'reason', wide: true, hint: 'e.g. PM2.5 forecast above 200 µg/m³ for 48 h', attrs: {maxlength: 500}}),
    submitRow('Declare alert'));

  async function load() {
    replace(current, h('p', {class: 'loading'}, 'Loading…'));
    let res;
    try {
      res = await get('/v1/alerts');
    } catch (err) {
      replace(current, problemBox(err, 'The alerts'));
      return;
    }
    const cur = res.current || [];
    if (!cur.length) {
      replace(current, h('p', {class: 'alert alert-none'}, 'No alert in force.'));
      return;
    }
    replace(current, cur.map(a => {
      const msg = h('p', {class: 'problem', hidden: true, role: 'alert'});
      const lift = button(`Lift the ${a.level} alert now`, async () => {
        lift.disabled = true;
        try {
          await post(`/v1/alerts/${seg(a.alert_id)}/end`);
          announce(`${a.level} alert lifted`);
          await load();
        } catch (err) {
          msg.textContent = problemText(err);
          msg.hidden = false;
          lift.disabled = false;
        }
      }, {class: 'danger'});
      return h('div', {class: 'alert-item'}, alertSummary(a), h('div', {class: 'actions'}, lift), msg);
    }));
  }
  body.append(current, h('h3', {}, 'Declare an alert'), form);
  load();
  return el;
}
