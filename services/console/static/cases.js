// cases.js: open cases by state with the actions the signed-in role may take. Remote-sensing
// cases move one step at a time (POST /v1/remote-sensing/cases/{id}/transitions); fuel
// non-conformance cases are closed by the bureau with a resolution; open OBD alarms are closed
// by the bureau after an inspection.
import {h, replace, button, announce, panel, problemBox, loading} from './dom.js';
import {get, post, seg} from './api.js';
import {fmtDate, fmtTime, words} from './format.js';
import {field, formShell, submitRow} from './forms.js';

const OPEN = ['detected', 'notified', 'penalised', 'repaired', 'retested'];

// STEPS is the case loop of docs/remotesensing.md: who may take each step from which state.
const STEPS = [
  {to: 'notified', from: ['detected'], roles: ['bureau'], label: 'Notify the owner', input: 'reason', inputLabel: 'Notice number or note', optional: true},
  {to: 'penalised', from: ['notified'], roles: ['police'], label: 'Record the penalty', input: 'reference', inputLabel: 'Penalty decision number'},
  {to: 'repaired', from: ['penalised'], roles: ['transport'], label: 'Confirm the repair', input: 'reason', inputLabel: 'Note', optional: true, needsRepair: true},
  {to: 'retested', from: ['repaired'], roles: ['bureau'], label: 'Record the retest', input: 'reference', inputLabel: 'Inspection report number'},
  {to: 'closed', from: ['retested'], roles: ['bureau'], label: 'Close', input: 'reason', inputLabel: 'Note', optional: true},
  {to: 'dismissed', from: OPEN, roles: ['bureau'], label: 'Dismiss', input: 'reason', inputLabel: 'Why it is dismissed', danger: true},
];

const POLLUTANTS = {co: 'CO', hc: 'HC', no: 'NO', opacity: 'smoke opacity', ringelmann: 'Ringelmann smoke'};

function stepForm(c, step, done, cancel) {
  const form = formShell({
    label: `${step.label}: case ${c.id}`,
    cls: 'step-form',
    onSubmit: async f => {
      const body = {to: step.to};
      const v = f.elements[step.input].value.trim();
      if (v) body[step.input] = v;
      const moved = await post(`/v1/remote-sensing/cases/${seg(c.id)}/transitions`, body);
      announce(`Case ${c.plate} moved to ${moved.state}.`);
      done(moved);
    },
  });
  form.append(
    field({label: step.inputLabel + (step.optional ? ' (optional)' : ''), name: step.input, required: !step.optional, attrs: {autocomplete: 'off'}}),
    submitRow(step.label, button('Cancel', () => cancel(form), {class: 'link'})));
  return form;
}

function actionsFor(c, role, done) {
  const steps = STEPS.filter(st => st.from.includes(c.state) && st.roles.includes(role));
  const box = h('div', {class: 'actions case-actions'});
  for (const st of steps) {
    const blocked = st.needsRepair && !c.repair;
    box.append(button(st.label, () => {
      const form = stepForm(c, st, done, f => {
        const again = actionsFor(c, role, done);
        f.replaceWith(again);
        const b = again.querySelector('button');
        if (b) b.focus();
      });
      box.replaceWith(form);
      form.querySelector('input').focus();
    }, {class: st.danger ? 'danger' : 'primary', disabled: blocked, dataset: {to: st.to},
      title: blocked ? 'Waiting for the repair shop\'s report' : null}));
    if (blocked) box.append(h('span', {class: 'hint'}, 'Waiting for the repair shop\'s report.'));
  }
  return box;
}

function rsCard(c, role, reload) {
  const chain = c.chain || {};
  const last = (c.triggers || [])[c.triggers.length - 1];
  return h('li', {class: 'case', dataset: {caseId: c.id, state: c.state}},
    h('p', {class: 'case-head'},
      h('span', {class: ['plate', `plate-${c.plate_colour}`]}, c.plate),
      h('span', {class: 'badge'}, POLLUTANTS[c.pollutant] || c.pollutant)),
    h('p', {class: 'meta'}, `Opened ${fmtDate(c.opened_at)} · ${words(c.state)} since ${fmtDate(c.state_since)}`),
    last ? h('p', {class: 'meta'}, `${(c.triggers || []).length} exceedances; last ${last.value} ${last.unit} (limit ${last.limit}) at ${last.station_id}`) : null,
    h('p', {class: 'meta chain'}, [chain.maker, chain.inspection_station && `inspected by ${chain.inspection_station}`, chain.transport_company, chain.repair_shop && `repaired by ${chain.repair_shop}`].filter(Boolean).join(' · ')),
    c.repair ? h('p', {class: 'meta'}, `Repair report ${c.repair.reference} (${fmtDate(c.repair.reported_at)})`) : null,
    role === 'admin' ? null : actionsFor(c, role, () => reload()));
}

/** remoteSensingCases lists the open remote-sensing cases by state. */
export function remoteSensingCases(role) {
  const {el, body} = panel('Remote-sensing cases', {id: 'rs-cases',
    intro: 'An exceeding vehicle (the same pollutant twice within an inspection cycle) is detected by the bureau, penalised by the police, repaired under the transport bureau, retested and closed (tasks 15 and 33).'});
  async function load() {
    replace(body, loading('the cases'));
    let items;
    try {
      items = (await get('/v1/remote-sensing/cases', {limit: 200})).items || [];
    } catch (err) {
      replace(body, problemBox(err, 'Remote sensing'));
      return;
    }
    const byState = Object.fromEntries(OPEN.map(st => [st, []]));
    let ended = 0;
    for (const c of items) {
      if (byState[c.state]) byState[c.state].push(c);
      else ended += 1;
    }
    replace(body,
      h('ol', {class: 'state-bar', 'aria-label': 'Open cases by state'}, OPEN.map(st =>
        h('li', {dataset: {state: st}}, h('span', {class: 'n'}, String(byState[st].length)), ` ${st}`))),
      h('div', {class: 'columns'}, OPEN.map(st => h('section', {class: 'column', 'aria-label': `${st} (${byState[st].length})`, dataset: {state: st}},
        h('h3', {}, `${words(st)} `, h('span', {class: 'count'}, `(${byState[st].length})`)),
        byState[st].length ? h('ul', {class: 'cases'}, byState[st].map(c => rsCard(c, role, load))) : h('p', {class: 'none'}, 'None.')))),
      ended ? h('p', {class: 'hint'}, `${ended} closed or dismissed cases are not shown.`) : null,
      role === 'admin' ? h('p', {class: 'hint'}, 'The platform admin takes no step in a case: each step is an act of its own authority.') : null);
  }
  load();
  return el;
}

// closeOpener hides a closing form behind a "Close…" button, which shows it and puts the focus
// on its first control: closing takes two deliberate steps.
function closeOpener(form) {
  form.hidden = true;
  const open = button('Close…', () => { open.hidden = true; form.hidden = false; form.querySelector('input, button[type=submit]').focus(); },
    {class: 'primary', dataset: {action: 'close'}});
  return open;
}

function fuelCard(c, reload) {
  const up = (c.chain && c.chain.upstream) || [];
  const form = formShell({
    label: `Close case ${c.case_id}`,
    cls: 'step-form',
    onSubmit: async f => {
      await post(`/v1/fuel/cases/${seg(c.case_id)}/close`, {resolution: f.elements.resolution.value.trim()});
      announce(`Case ${c.case_id} closed.`);
      reload();
    },
  });
  form.append(field({label: 'Resolution', name: 'resolution', required: true, attrs: {autocomplete: 'off'}}), submitRow('Close the case'));
  const open = closeOpener(form);
  return h('li', {class: 'case', dataset: {caseId: c.case_id, state: c.status}},
    h('p', {class: 'case-head'}, h('strong', {}, c.site_name || c.site_id), c.escalated ? h('span', {class: 'badge sev-stop'}, 'ESCALATED') : null),
    h('p', {class: 'meta'}, `${words(c.product)} ${c.grade || ''} · sampled ${fmtDate(c.sampled_at)} · ${c.case_id}`),
    h('ul', {class: 'failures'}, [...(c.failures || []).map(r => h('li', {}, r.message)), ...(c.findings || []).map(x => h('li', {}, x.message))]),
    up.length ? h('p', {class: 'meta chain'}, 'Supplied by: ', up.map(u => u.name || u.site_id).join(' ← ')) : null,
    h('div', {class: 'actions'}, open), form);
}

/** fuelCases lists the open fuel, urea and coal non-conformance cases (bureau). */
export function fuelCases() {
  const {el, body} = panel('Fuel, urea and coal cases', {id: 'fuel-cases',
    intro: 'A failing sample opens a case traced up its supply chain; repeated failures at a site escalate (tasks 7 and 14).'});
  async function load() {
    replace(body, loading('the cases'));
    try {
      const items = (await get('/v1/fuel/cases', {status: 'open', limit: 100})).items || [];
      replace(body, items.length ? h('ul', {class: 'cases cards'}, items.map(c => fuelCard(c, load))) : h('p', {class: 'none'}, 'No open case.'));
    } catch (err) {
      replace(body, problemBox(err, 'Fuel cases'));
    }
  }
  load();
  return el;
}

function alarmCard(a, reload) {
  const truck = a.plate || a.vin;
  const form = formShell({
    label: `Close the ${words(a.kind)} alarm of ${truck}`,
    cls: 'step-form',
    onSubmit: async () => {
      await post(`/v1/obd/vehicles/${seg(a.vin)}/alarms/${seg(a.kind)}/close`, {});
      announce(`The ${words(a.kind)} alarm of ${truck} is closed.`);
      reload();
    },
  });
  form.append(h('p', {class: 'hint'}, 'Close it once the truck has been inspected; an alarm whose cause persists opens again with the next data.'),
    submitRow('Close the alarm'));
  const open = closeOpener(form);
  return h('li', {class: 'case alarm', dataset: {alarmId: a.alarm_id, kind: a.kind, vin: a.vin}},
    h('p', {class: 'case-head'}, h('strong', {}, truck), h('span', {class: 'badge sev-stop'}, words(a.kind))),
    h('p', {class: 'meta'}, `opened ${fmtTime(a.opened_at)} · VIN ${a.vin}`),
    a.message ? h('p', {}, a.message) : null,
    h('div', {class: 'actions'}, open), form);
}

/** obdAlarms lists the district's open OBD alarms, newest first (bureau). */
export function obdAlarms() {
  const {el, body} = panel('Open OBD alarms', {id: 'obd-alarms',
    intro: 'Heavy diesel trucks whose on-board diagnostics report NOx above the limit, an empty reagent tank, a lit MIL, fault codes or tampering (tasks 15 and 23). Tamper alarms stay open until closed here.'});
  async function load() {
    replace(body, loading('the alarms'));
    try {
      const res = await get('/v1/obd/alarms', {state: 'open', limit: 100});
      const items = res.items || [];
      replace(body, items.length ? h('ul', {class: 'cases cards'}, items.map(a => alarmCard(a, load))) : h('p', {class: 'none'}, 'No open alarm.'),
        res.next_cursor ? h('p', {class: 'hint'}, 'The 100 newest are shown; more are open.') : null);
    } catch (err) {
      replace(body, problemBox(err, 'OBD alarms'));
    }
  }
  load();
  return el;
}
