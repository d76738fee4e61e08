// The station / lab page: upload a sample's results by form or a CSV file and see the verdict
// per parameter at once (POST /v1/fuel/samples, POST /v1/fuel/samples/import).
import {h, replace, button, announce, panel, problemBox, loading} from '../dom.js';
import {api, ApiError, get, post, seg} from '../api.js';
import {fmtTime, inputValue, fromInput, num, words} from '../format.js';
import {field, formShell, submitRow, showErrors} from '../forms.js';

const PRODUCTS = {gasoline: 'Petrol', diesel: 'Diesel', urea: 'Vehicle urea (AUS 32)', coal: 'Household coal'};
const CMP = {max: '≤', min: '≥'};

function limitText(l) {
  if (!l) return 'no limit in force';
  const u = l.unit === '1' ? '' : ` ${l.unit}`;
  if (l.comparison === 'range') return `${num(l.min)} – ${num(l.max)}${u}`;
  if (l.comparison === 'forbidden') return `not to be added (≤ ${num(l.limit ?? 0)}${u})`;
  return `${CMP[l.comparison] || ''} ${num(l.limit)}${u}`;
}

/** verdictView shows a sample's verdict and every parameter's. */
export function verdictView(sample, {replay} = {}) {
  const fail = sample.verdict === 'fail';
  return h('article', {class: ['verdict', 'sample-verdict', `verdict-${fail ? 'stop' : 'pass'}`], dataset: {verdict: sample.verdict, sampleId: sample.sample_id}, tabindex: '-1', 'aria-labelledby': 'sample-verdict-word'},
    h('div', {class: 'verdict-banner'},
      h('p', {class: 'verdict-word', id: 'sample-verdict-word'}, h('span', {class: 'verdict-icon', 'aria-hidden': 'true'}, fail ? '✕' : '✓'), fail ? ' FAIL' : ' PASS'),
      h('p', {class: 'verdict-plate'}, `${sample.sample_id} · ${PRODUCTS[sample.product] || sample.product} ${sample.grade || ''}`),
      h('p', {class: 'verdict-hint'}, `${sample.site_id} · sampled ${fmtTime(sample.sampled_at)} · ${words(sample.source || '')}${replay ? ' · already uploaded: this is the stored result' : ''}`)),
    h('div', {class: 'verdict-body'},
      h('div', {class: 'table-wrap'}, h('table', {class: 'results'},
        h('caption', {}, 'Verdict per parameter'),
        h('thead', {}, h('tr', {}, ['Parameter', 'Value', 'Limit', 'Verdict'].map(x => h('th', {scope: 'col'}, x)))),
        h('tbody', {}, (sample.results || []).map(r => h('tr', {class: `r-${r.verdict}`, dataset: {parameter: r.parameter, verdict: r.verdict}},
          h('th', {scope: 'row'}, words(r.parameter)),
          h('td', {}, `${num(r.value)} ${r.unit || ''}`, r.unit_canonical && r.unit_canonical !== r.unit && r.value_canonical !== undefined
            ? h('span', {class: 'meta'}, ` = ${num(r.value_canonical)} ${r.unit_canonical === '1' ? '' : r.unit_canonical}`) : null),
          h('td', {}, limitText(r.limit), r.limit ? h('span', {class: 'meta block'}, `${r.limit.standard}${r.limit.stage ? ` ${r.limit.stage}` : ''}${r.limit.confirm ? ' (to be confirmed)' : ''}`) : null),
          h('td', {}, h('span', {class: ['badge', r.verdict === 'fail' ? 'sev-stop' : r.verdict === 'pass' ? 'ok' : 'muted']}, words(r.verdict).toUpperCase()),
            r.verdict === 'fail' && r.message ? h('span', {class: 'meta block'}, r.message) : null)))))),
      (sample.findings || []).length ? h('div', {}, h('h3', {}, 'Prohibitions'), h('ul', {class: 'failures'}, sample.findings.map(f => h('li', {dataset: {code: f.code}}, `${f.message} (${f.clause || f.standard})`)))) : null,
      sample.case_id ? h('p', {class: 'notice'}, `Case ${sample.case_id} opened: the bureau traces the failure up the supply chain.`) : null,
      h('p', {class: 'meta'}, `Judged by limit table version ${sample.limits_version ?? '—'} · revision ${sample.revision ?? 1}`)));
}

function sampleId(sess) {
  const stamp = inputValue(new Date()).replace(/[-:T]/g, '');
  const who = (sess.tenant || sess.role).replace(/[^A-Za-z0-9]+/g, '-').toUpperCase().slice(0, 24);
  return `${who}-${stamp}`;
}

function render(root, sess) {
  const out = h('section', {class: 'verdict-box', 'aria-label': 'Verdict'});
  const formPanel = panel('Upload a sample', {id: 'upload', intro: 'Enter the results as the lab reports them; the platform converts units and judges each parameter against the limits in force on the sampling day.'});
  const csvPanel = panel('Upload a CSV file', {id: 'csv', intro: 'All or nothing: one bad row refuses the file and names the row and column. Sending a file again after an interruption completes it.'});
  const listPanel = panel('Recent samples', {id: 'recent-samples', actions: [button('Refresh', () => loadRecent())]});
  root.append(h('h1', {class: 'page-title'}, 'Samples', sess.tenant ? h('span', {class: 'sub'}, ` ${sess.tenant}`) : null),
    h('div', {class: 'samples-grid'}, formPanel.el, out, csvPanel.el, listPanel.el));
  formPanel.body.append(loading('the limit table'));

  function show(sample, opts) {
    const v = verdictView(sample, opts);
    replace(out, v);
    announce(`Sample ${sample.sample_id}: ${sample.verdict === 'fail' ? 'FAIL' : 'PASS'}.`);
    v.focus();
  }

  async function open(id) {
    replace(out, loading(`sample ${id}`));
    try {
      show(await get(`/v1/fuel/samples/${seg(id)}`));
    } catch (err) {
      replace(out, problemBox(err, `Sample ${id}`));
    }
  }

  async function loadRecent() {
    replace(listPanel.body, loading('the samples'));
    try {
      const q = {limit: 10};
      if (sess.role === 'station') q.site_id = sess.tenant;
      const items = (await get('/v1/fuel/samples', q)).items || [];
      replace(listPanel.body, items.length ? h('ul', {class: 'sample-list'}, items.map(x => h('li', {dataset: {sampleId: x.sample_id}},
        button([h('span', {class: ['badge', x.verdict === 'fail' ? 'sev-stop' : 'ok']}, String(x.verdict).toUpperCase()), ` ${x.sample_id}`,
          h('span', {class: 'meta'}, ` ${PRODUCTS[x.product] || x.product} ${x.grade || ''} · ${x.site_id} · ${fmtTime(x.sampled_at)}`)], () => open(x.sample_id), {class: 'recent-item'})))) : h('p', {class: 'none'}, 'No sample yet.'));
    } catch (err) {
      replace(listPanel.body, problemBox(err, 'The samples'));
    }
  }

  Promise.all([get('/v1/fuel/limits'), sess.role === 'station' ? get(`/v1/fuel/sites/${seg(sess.tenant)}`).then(x => [x], () => [{site_id: sess.tenant, name: sess.tenant}])
    : get('/v1/fuel/sites', {limit: 500}).then(x => x.items || [])]).then(([limits, sites]) => {
    replace(formPanel.body, sampleForm(limits, sites));
  }, err => replace(formPanel.body, problemBox(err, 'The limit table')));
  csvPanel.body.append(csvForm());
  loadRecent();

  function sampleForm(limits, sites) {
    const table = limits.table || {};
    const products = (table.products || []).map(p => p.product);
    const params = product => (table.parameters || []).filter(p => p.product === product);
    const units = Object.fromEntries((limits.units || []).map(u => [u.unit, u.accepted]));
    const rows = h('div', {class: 'result-rows'});
    const siteSel = field({label: 'Site', name: 'site_id', required: true, options: sites.map(x => [x.site_id, `${x.name || x.site_id} (${x.site_id})`])});
    const productField = field({label: 'Product', name: 'product', required: true, options: products.map(p => [p, PRODUCTS[p] || p])});
    const gradeField = field({label: 'Grade', name: 'grade', options: []});
    const productSel = productField.querySelector('select');
    const gradeSel = gradeField.querySelector('select');
    const datalists = h('div', {hidden: true});
    for (const [unit, acc] of Object.entries(units)) {
      datalists.append(h('datalist', {id: `units-${unit.replace(/[^a-z0-9]/gi, '_')}`}, acc.map(a => h('option', {value: a}))));
    }
    function siteProducts() {
      const site = sites.find(x => x.site_id === siteSel.querySelector('select').value);
      return site && site.products && site.products.length ? site.products : products;
    }
    function syncProducts() {
      const allowed = siteProducts();
      const cur = productSel.value;
      replace(productSel, allowed.map(p => h('option', {value: p}, PRODUCTS[p] || p)));
      if (allowed.includes(cur)) productSel.value = cur;
      syncGrades();
    }
    function syncGrades() {
      const p = (table.products || []).find(x => x.product === productSel.value) || {};
      replace(gradeSel, (p.grades || []).map(g => h('option', {value: g}, g)));
      gradeSel.value = p.default_grade || (p.grades || [])[productSel.value === 'gasoline' ? 1 : 0] || '';
      replace(rows);
      const first = params(productSel.value).slice(0, 2);
      (first.length ? first : [null]).forEach(x => addRow(x && x.key));
    }
    function renumber() {
      [...rows.children].forEach((row, i) => {
        row.querySelectorAll('[data-key]').forEach(el => { el.name = `results[${i}].${el.dataset.key}`; });
        row.querySelector('legend').textContent = `Result ${i + 1}`;
        row.querySelector('button.remove').setAttribute('aria-label', `Remove result ${i + 1}`);
      });
    }
    function addRow(key) {
      const ps = params(productSel.value);
      const i = rows.children.length;
      const pf = field({label: 'Parameter', name: `results[${i}].parameter`, options: ps.map(p => [p.key, `${words(p.key)} — ${p.name}`])});
      const vf = field({label: 'Value', name: `results[${i}].value`, required: true, attrs: {inputmode: 'decimal', autocomplete: 'off'}});
      const uf = field({label: 'Unit', name: `results[${i}].unit`, attrs: {autocomplete: 'off', spellcheck: 'false'}});
      const psel = pf.querySelector('select');
      const uin = uf.querySelector('input');
      psel.dataset.key = 'parameter';
      vf.querySelector('input').dataset.key = 'value';
      uin.dataset.key = 'unit';
      const syncUnit = () => {
        const p = ps.find(x => x.key === psel.value);
        const u = p ? p.unit : '';
        uin.value = u === '1' ? '' : u;
        uin.setAttribute('list', `units-${u.replace(/[^a-z0-9]/gi, '_')}`);
        uin.placeholder = u === '1' ? 'no unit' : '';
      };
      if (key) psel.value = key;
      psel.addEventListener('change', syncUnit);
      syncUnit();
      const row = h('fieldset', {class: 'result-row'}, h('legend', {}, `Result ${i + 1}`), pf, vf, uf,
        button('✕', () => { row.remove(); renumber(); }, {class: 'remove link', 'aria-label': `Remove result ${i + 1}`}));
      rows.append(row);
      return row;
    }
    const form = formShell({
      label: 'Upload a sample',
      onSubmit: async f => {
        const e = f.elements;
        const body = {sample_id: e.sample_id.value.trim(), site_id: e.site_id.value, product: e.product.value,
          sampled_at: fromInput(e.sampled_at.value) || undefined, results: []};
        if (e.grade.value) body.grade = e.grade.value;
        if (e.label.value.trim()) body.label = e.label.value.trim();
        if (e.standard.value.trim()) body.standard = e.standard.value.trim();
        [...rows.children].forEach(row => {
          const get1 = k => row.querySelector(`[data-key="${k}"]`).value.trim();
          const raw = get1('value');
          const n = Number(raw);
          body.results.push({parameter: get1('parameter'), value: raw !== '' && Number.isFinite(n) ? n : raw, unit: get1('unit')});
        });
        const sample = await post('/v1/fuel/samples', body);
        show(sample, {replay: sample._status === 200});
        e.sample_id.value = sampleId(sess);
        loadRecent();
      },
    });
    siteSel.querySelector('select').addEventListener('change', syncProducts);
    productSel.addEventListener('change', syncGrades);
    form.append(
      h('div', {class: 'grid2'},
        field({label: 'Sample id', name: 'sample_id', required: true, value: sampleId(sess), hint: 'Your own id: uploading the same id again returns the stored result.', attrs: {autocomplete: 'off', spellcheck: 'false'}}),
        siteSel, productField, gradeField,
        field({label: 'Sampled at (China time)', name: 'sampled_at', type: 'datetime-local', required: true, value: inputValue(new Date())}),
        field({label: 'Label as sold (optional)', name: 'label', attrs: {autocomplete: 'off'}}),
        field({label: 'Declared standard (optional)', name: 'standard', hint: 'e.g. 国六B, VIB', attrs: {autocomplete: 'off'}})),
      datalists,
      h('h3', {}, 'Results'),
      rows,
      h('div', {class: 'actions'}, button('Add a parameter', () => { addRow(); rows.lastElementChild.querySelector('select').focus(); }, {class: 'secondary'})),
      submitRow('Upload and judge'));
    if (sites.length) syncProducts();
    return form;
  }

  function csvForm() {
    const result = h('div', {class: 'csv-result', 'aria-live': 'polite'});
    const form = formShell({
      label: 'Upload a CSV file',
      onSubmit: async f => {
        const file = f.elements.file.files[0];
        if (!file) throw {message: 'No file chosen', fields: [{field: 'file', message: 'Choose a CSV file first.'}]};
        replace(result, loading(file.name));
        let res;
        try {
          // An import is a job (202): follow it, showing its progress, until it ends.
          let job = await api('POST', '/v1/fuel/samples/import', {raw: await file.text(), contentType: 'text/csv'});
          while (job.status === 'queued' || job.status === 'running') {
            const pr = job.progress || {};
            replace(result, loading(`${file.name}: ${pr.rows_checked || 0} of ${pr.total_rows || '?'} rows checked, ${pr.samples_stored || 0} samples stored, ${pr.cases_opened || 0} cases opened`));
            await new Promise(r => setTimeout(r, 500));
            job = await api('GET', '/v1/fuel/samples/imports/' + seg(job.import_id));
          }
          if (job.status === 'failed') throw new ApiError((job.error || {}).status || 400, job.error || {title: 'The import failed'});
          res = job.result || {};
        } catch (err) {
          replace(result);
          // A CSV's problems name rows[N].column: show them all next to the file input.
          showErrors(f, err, name => (/^rows\[/.test(name) || name === 'body' ? 'file' : name));
          f.querySelectorAll('.field-error .msg').forEach(m => { m.textContent = `${m.dataset.field}: ${m.textContent.trim()} `; });
          return;
        }
        announce(`${res.samples} samples: ${res.created} new, ${res.replayed} already stored, ${res.failed} failing.`);
        replace(result,
          h('p', {class: 'notice', dataset: {imported: res.samples}}, `${res.samples} sample${res.samples === 1 ? '' : 's'} (${words(res.layout)} layout): ${res.created} new, ${res.replayed} already stored, ${res.failed} failing.`),
          h('div', {class: 'table-wrap'}, h('table', {class: 'results'},
            h('thead', {}, h('tr', {}, ['Sample', 'Line', 'Verdict', 'Case'].map(x => h('th', {scope: 'col'}, x)))),
            h('tbody', {}, (res.items || []).map(it => h('tr', {dataset: {sampleId: it.sample_id, verdict: it.verdict}},
              h('th', {scope: 'row'}, button(it.sample_id, () => open(it.sample_id), {class: 'link'})),
              h('td', {}, String(it.row)),
              h('td', {}, h('span', {class: ['badge', it.verdict === 'fail' ? 'sev-stop' : 'ok']}, String(it.verdict).toUpperCase())),
              h('td', {}, it.case_id || '—')))))));
        const firstFail = (res.items || []).find(it => it.verdict === 'fail') || (res.items || [])[0];
        if (firstFail) open(firstFail.sample_id);
        loadRecent();
      },
    });
    form.append(
      field({label: 'CSV file', name: 'file', type: 'file', required: true, attrs: {accept: '.csv,.txt,text/csv'},
        hint: 'One row per parameter (sample_id, site_id, product, grade, sampled_at, parameter, value, unit) or one row per sample with a column per parameter, e.g. "sulfur (mg/kg)".'}),
      h('details', {class: 'numbers'}, h('summary', {}, 'Example file'),
        h('pre', {}, 'sample_id,site_id,product,grade,sampled_at,parameter,value,unit\nLAB1-0316-01,dep-shuozhou-02,diesel,0,2026-03-16 10:00,sulfur,8,mg/kg\nLAB1-0316-01,dep-shuozhou-02,diesel,0,2026-03-16 10:00,cetane_number,52,')),
      submitRow('Upload file'),
      result);
    return form;
  }
}

export default {id: 'samples', title: 'Samples', roles: ['station', 'lab', 'bureau'], render};
