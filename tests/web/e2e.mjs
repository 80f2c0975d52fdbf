// End-to-end test of segscored's web page in headless Chromium, driven by
// playwright-core (web/node_modules, from web/package-lock.json).  Run by
// tests/groups/web.sh, which starts the daemon, generates the files and
// fetches the API's own report for them.
//   node e2e.mjs BASE_URL DATA_DIR OUT_DIR TOKEN
// Prints TAP-like "ok - ..." / "not ok - ..." lines; exits 1 on a failure.
// SPDX-License-Identifier: MIT
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../web/package.json'));
const { chromium } = require('playwright-core');

const [base, data, out, token] = process.argv.slice(2);
const api = JSON.parse(fs.readFileSync(path.join(out, 'api.json'), 'utf8'));
const apiBad = JSON.parse(fs.readFileSync(path.join(out, 'api-bad.json'), 'utf8'));

let fails = 0;
function check(what, cond, extra) {
  if (cond) console.log('ok - ' + what);
  else {
    fails++;
    console.log('not ok - ' + what + (extra !== undefined ? ': ' + extra : ''));
  }
}

const REASON_WORDS = {
  pred_empty: 'the prediction is empty for this class',
  ref_empty: 'the reference is empty for this class',
  both_empty: 'both the prediction and the reference are empty for this class',
};

function get(obj, keyPath) {
  const m = /^((?:.*?\.)?(?:nsd|fbeta))\.(.+)$/.exec(keyPath);
  const parts = m ? m[1].split('.').concat([m[2]]) : keyPath.split('.');
  let o = obj;
  for (const p of parts) {
    if (o === null || typeof o !== 'object' || !(p in o)) return undefined;
    o = o[p];
  }
  return o;
}

/* Every cell with a data-key in TABLE's rows against the API report: the
 * raw value exactly, the shown text within its rounding, and for a null
 * the reason the report gives. */
async function compareCells(page, table, report) {
  const rows = await page.$$eval(table + ' tbody tr', (trs) => trs.map((tr) => ({
    label: tr.getAttribute('data-label'),
    cells: [...tr.querySelectorAll('td[data-key]')].map((td) => ({
      key: td.getAttribute('data-key'), value: td.getAttribute('data-value'),
      reason: td.getAttribute('data-reason'), text: td.textContent })),
  })));
  let compared = 0;
  const mismatches = [];
  for (const row of rows) {
    const c = report.classes.find((x) => String(x.label) === row.label);
    if (!c) { mismatches.push('no class ' + row.label); continue; }
    for (const cell of row.cells) {
      const want = get(c, cell.key);
      compared++;
      if (want === null) {
        const inner = cell.key.replace(/^(overlap|boundary|counts)\./, '');
        const why = c.undefined[cell.key] || c.undefined[inner];
        if (cell.value !== 'null' || cell.reason !== why)
          mismatches.push(row.label + ' ' + cell.key + ' should be undefined (' + why + ')');
        continue;
      }
      const shown = Number(cell.text.replace(/,/g, ''));
      const decimals = (cell.text.split('.')[1] || '').length;
      if (Number(cell.value) !== want || Math.abs(shown - want) > 0.5 * 10 ** -decimals + 1e-12)
        mismatches.push(row.label + ' ' + cell.key + ': page ' + cell.value + ' / "' +
          cell.text + '", API ' + want);
    }
  }
  return { compared, mismatches };
}

function readIf(name) {
  const f = path.join(out, name);
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null;
}

/* Pixels of a canvas that are not fully transparent. */
async function inkedPixels(page, id) {
  return page.evaluate((cid) => {
    const c = document.getElementById(cid);
    if (!c || !c.width || !c.height) return 0;
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
    return n;
  }, id);
}

/* A report for a 2-class probability map with every optional part, in the
 * shapes of DESIGN.md section 4 and the lesions/raters branches: the page
 * must draw what it gets, whichever branches the daemon was built with. */
function mockReport() {
  const thr = [], prec1 = [], rec1 = [], prec2 = [], rec2 = [];
  for (let i = 0; i <= 50; i++) {
    const t = i / 50;
    thr.push(t);
    rec1.push(1 - t ** 2); prec1.push(0.6 + 0.4 * t ** 0.5);
    rec2.push(1 - t ** 1.5); prec2.push(i === 50 ? null : 0.4 + 0.5 * t);
  }
  const tv = (base) => [[0.5, 0.5], [0.3, 0.7], [0.7, 0.3], [0.1, 0.9]]
    .map(([a, b], k) => ({ alpha: a, beta: b, index: base - 0.04 * k }));
  const cls = (label, dice, pr, rc, extra) => Object.assign({
    label, status: 'ok',
    counts: { tp: 900, fp: 100, fn: 80, tn: 9000, pred_voxels: 1000, ref_voxels: 980,
      pred_volume_mm3: 1525.9, ref_volume_mm3: 1495.4 },
    overlap: { dice, jaccard: dice / (2 - dice), precision: 0.9, recall: 0.92,
      fbeta: { '0.5': dice + 0.01, '2': dice - 0.01 } },
    boundary: { hd: 4.2, hd95: 2.5 + label, assd: 0.81, nsd: { '1': 0.91 } },
    losses: { dice: 1 - dice, tversky: 1.02 - dice },
    tradeoffs: {
      tversky: tv(dice), fbeta: { '0.5': dice + 0.01, '1': dice, '2': dice - 0.01 },
      pr_curve: { thresholds: thr, precision: pr, recall: rc },
      average_precision: 0.93 - 0.1 * label, best_threshold: { threshold: 0.45, dice: dice + 0.01 },
      brier: 0.02 * label, ece: 0.01 * label,
      calibration: { confidence: [0.05, 0.25, 0.5, 0.75, 0.95],
        accuracy: [0.02, 0.2 + 0.05 * label, 0.52, 0.7, 0.97], count: [900, 40, 30, 40, 990] },
    },
    lesions: { tp: 3, fp: 1, fn: label - 1, tp_pred: 3, n_reference: 2 + label, n_prediction: 4,
      precision: 0.75, recall: 3 / (2 + label), f1: 0.7, lesion_dice: 0.8, lesion_hd95: null,
      reference_lesions: [], prediction_lesions: [] },
    undefined: { 'lesions.lesion_hd95': 'ref_empty' },
  }, extra || {});
  const classes = [cls(1, 0.91, prec1, rec1), cls(2, 0.78, prec2, rec2)];
  return {
    segscore: { version: '0.1.0' },
    input: { shape: [64, 64, 32], spacing_mm: [1, 1, 2.5], prediction_kind: 'probabilities',
      channels: 3, nifti_version: [1, 1], references: 2 },
    conventions: { surface: 'surfel', percentiles: [95], nsd_tolerances_mm: [1] },
    classes,
    summary: { mean: { dice: 0.845 }, losses: { ce: 0.12, dice: 0.155, gdl: 0.14 } },
    consensus: { rule: 'majority_vote', references: 2 },
    raters: [1, 2].map((k) => ({ reference: k, classes: classes.map((c) => ({
      label: c.label, overlap: { dice: c.overlap.dice - 0.02 * k }, undefined: {} })) })),
    inter_rater: { classes: classes.map((c) => ({ label: c.label,
      dice: { min: 0.8, max: 0.9, mean: 0.85, n_valid: 1, n_undefined: 0 } })) },
    timing_ms: { total: 42 },
  };
}

async function main() {
  const t0 = Date.now();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    /* playwright gives every launch a fresh temporary profile */
  });
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 },
    acceptDownloads: true });
  const page = await ctx.newPage();
  const problems = [];
  const offOrigin = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !/^(data|blob):/.test(r.url()))
    offOrigin.push(r.url()); });
  await page.addInitScript(() => {
    window.__progress = [];
    document.addEventListener('DOMContentLoaded', () => {
      const t = document.getElementById('progress-text');
      new MutationObserver(() => window.__progress.push(t.textContent))
        .observe(t, { childList: true, characterData: true, subtree: true });
    });
    window.__csp = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
  });

  const resp = await page.goto(base + '/');
  check('GET / answers 200 text/html', resp.status() === 200 &&
    /text\/html/.test(resp.headers()['content-type']));
  const csp = resp.headers()['content-security-policy'] || '';
  check('GET / sends a CSP without remote origins', /default-src 'none'/.test(csp) &&
    !/https?:/.test(csp), csp);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 10000 })
    .catch((e) => { throw new Error('page did not start: ' + problems.join(' | ') + ' ' + e); });
  check('Chart.js and the matrix plugin loaded',
    await page.evaluate(() => !!(window.Chart && Chart.registry.getController('matrix'))));

  // 1. Without the token the server refuses; the page says so in words.
  //    The reference arrives by drag and drop, the prediction by the picker.
  await page.setInputFiles('#prediction', path.join(data, 'pred.nii.gz'));
  const refBytes = fs.readFileSync(path.join(data, 'ref.nii.gz')).toString('base64');
  const dropped = await page.evaluate((b64) => {
    const bin = atob(b64);
    const u8 = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
    const dt = new DataTransfer();
    dt.items.add(new File([u8], 'ref.nii.gz', { type: 'application/gzip' }));
    document.getElementById('drop-reference').dispatchEvent(
      new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    const f = document.getElementById('reference').files[0];
    return f ? f.name + ' ' + f.size : 'nothing';
  }, refBytes);
  check('a dropped file lands in its field', dropped === 'ref.nii.gz ' +
    fs.statSync(path.join(data, 'ref.nii.gz')).size, dropped);
  await page.click('#score');
  await page.waitForSelector('#error:not([hidden])', { timeout: 20000 });
  const authText = await page.textContent('#error');
  check('missing token: readable 401 message', /bearer token/i.test(authText) &&
    /HTTP 401/.test(authText), authText);

  // 2. With the token: the report, as tables and charts.
  await page.fill('#token', token);
  await page.click('#score');
  await page.waitForSelector('#results:not([hidden])', { timeout: 30000 });
  check('error box cleared after success', await page.isHidden('#error'));
  const progress = await page.evaluate(() => window.__progress);
  check('progress shown while uploading and scoring, hidden after',
    progress.some((t) => /^Uploading \d+%$/.test(t)) && progress.includes('Scoring\u2026') &&
    await page.isHidden('#progress'), progress.join(' | '));

  const nrows = (await page.$$('#class-table tbody tr')).length;
  check('one table row per class of the API report', nrows === api.classes.length,
    nrows + ' vs ' + api.classes.length);
  const cmp = await compareCells(page, '#class-table', api);
  check('table values equal the API report (' + cmp.compared + ' cells)',
    cmp.compared >= 3 * api.classes.length && cmp.mismatches.length === 0,
    cmp.mismatches.join('; '));

  const means = await page.$$eval('#class-table tfoot td[data-key]', (tds) => tds.map((td) =>
    ({ key: td.getAttribute('data-key'), value: td.getAttribute('data-value') })));
  const badMeans = means.filter((m) => String(get(api.summary.mean, m.key)) !== m.value);
  check('mean row equals the API summary (' + means.length + ' cells)',
    means.length >= 4 && badMeans.length === 0, JSON.stringify(badMeans));

  const undefKeys = api.classes.flatMap((c) => Object.values(c.undefined || {}));
  if (undefKeys.length) {
    const notes = await page.textContent('#undefined-notes');
    const missing = [...new Set(undefKeys)].filter((w) => REASON_WORDS[w] &&
      !notes.includes(REASON_WORDS[w]));
    check('undefined values explained in words', missing.length === 0,
      'missing ' + missing.join(', ') + ' in: ' + notes);
  }
  check('bar chart drawn (Dice per class)', await inkedPixels(page, 'chart-bars') > 2000);
  const nbars = await page.evaluate(() =>
    Chart.getChart('chart-bars').data.datasets[0].data.length);
  check('bar chart has one bar per class', nbars === api.classes.length);
  await page.screenshot({ path: path.join(out, 'web-report.png'), fullPage: true });

  // Downloads: the JSON is the response itself; the CSV has a row per class.
  const [dj] = await Promise.all([page.waitForEvent('download'), page.click('#dl-json')]);
  const got = JSON.parse(fs.readFileSync(await dj.path(), 'utf8'));
  delete got.timing_ms;
  const want = Object.assign({}, api);
  delete want.timing_ms;
  check('JSON download equals the API report (but timing)',
    JSON.stringify(got) === JSON.stringify(want));
  const [dc] = await Promise.all([page.waitForEvent('download'), page.click('#dl-csv')]);
  const csv = fs.readFileSync(await dc.path(), 'utf8').trim().split(/\r\n/);
  const head = csv[0].split(',');
  const di = head.indexOf('overlap.dice');
  check('CSV download: header and one row per class', csv.length === api.classes.length + 1 &&
    head[0] === 'label' && di > 0 && Number(csv[1].split(',')[di]) === api.classes[0].overlap.dice,
    csv[0]);

  const stored = await page.evaluate(() => JSON.stringify(localStorage) +
    JSON.stringify(sessionStorage) + document.cookie);
  check('token not stored by the page', !stored.includes(token));

  // 2a. A real probability map: the table again, and the probability
  //     charts whenever the report has their keys (DESIGN.md section 4).
  const apiProb = readIf('api-prob.json');
  await page.setInputFiles('#prediction', path.join(data, 'prob.nii.gz'));
  await page.click('#score');
  await page.waitForFunction((k) => !document.getElementById('results').hidden &&
    document.getElementById('result-summary').textContent.includes(k), 'probabilities',
  { timeout: 30000 });
  const pc = await compareCells(page, '#class-table', apiProb);
  check('probability map: table equals the API report (' + pc.compared + ' cells)',
    pc.compared >= 3 * apiProb.classes.length && pc.mismatches.length === 0,
    pc.mismatches.join('; '));
  const has = (k) => apiProb.classes.some((c) => c.tradeoffs && c.tradeoffs[k] !== undefined);
  check('probability map: PR curve drawn exactly when the report has pr_curve',
    has('pr_curve') === (await page.isVisible('#sec-pr')) &&
    (!has('pr_curve') || await inkedPixels(page, 'chart-pr') > 2000));
  check('probability map: heat map drawn exactly when the report has a trade-off grid',
    (has('tversky') || has('fbeta')) === (await page.isVisible('#sec-grid')) &&
    (!(has('tversky') || has('fbeta')) || await inkedPixels(page, 'chart-grid') > 2000));
  const lossNames = Object.keys((apiProb.summary && apiProb.summary.losses) || {});
  const lossRows = await page.$$eval('#loss-table tbody tr td:first-child',
    (tds) => tds.map((td) => td.textContent));
  check('probability map: every case loss listed', lossNames.every((n) => lossRows.includes(n)) &&
    (lossNames.length === 0) === (await page.isHidden('#sec-losses')), lossRows.join(' '));
  await page.screenshot({ path: path.join(out, 'web-probability-map.png'), fullPage: true });
  await page.setInputFiles('#prediction', path.join(data, 'pred.nii.gz'));

  // 2b. Lesions and a second rater, when the daemon was built with them.
  const apiLesions = readIf('api-lesions.json');
  if (apiLesions) {
    await page.check('#m-lesions');
    await page.click('#score');
    await page.waitForSelector('#sec-lesions:not([hidden])', { timeout: 30000 });
    const lc = await compareCells(page, '#lesion-table', apiLesions);
    check('lesion table equals the API report (' + lc.compared + ' cells)',
      lc.compared >= 5 * apiLesions.classes.length && lc.mismatches.length === 0,
      lc.mismatches.join('; '));
    await page.uncheck('#m-lesions');
  } else {
    console.log('# skip: no lesions in this build');
  }
  const apiRaters = readIf('api-raters.json');
  if (apiRaters) {
    await page.setInputFiles('#raters', path.join(data, 'ref2.nii.gz'));
    await page.click('#score');
    await page.waitForSelector('#sec-raters:not([hidden])', { timeout: 30000 });
    const got = await page.$$eval('#rater-table tbody tr', (trs) => trs.map((tr) =>
      [...tr.querySelectorAll('td[data-key]')].map((td) => td.getAttribute('data-value'))));
    const want = apiRaters.classes.map((c) => [c.overlap.dice, ...apiRaters.raters.map((r) =>
      r.classes.find((x) => x.label === c.label).overlap.dice)].map((v) =>
      v === null ? 'null' : String(v)));
    check('rater table equals the API report (consensus and each reference)',
      JSON.stringify(got) === JSON.stringify(want), JSON.stringify(got) + ' vs ' +
      JSON.stringify(want));
    const cc = await compareCells(page, '#class-table', apiRaters);
    check('with two raters the class table equals the API report',
      cc.mismatches.length === 0, cc.mismatches.join('; '));
    await page.screenshot({ path: path.join(out, 'web-raters.png'), fullPage: true });
    await page.setInputFiles('#raters', []);
  } else {
    console.log('# skip: no multi-rater reports in this build');
  }

  // 3. A file that is not NIfTI: the problem's title and detail, in words.
  await page.setInputFiles('#prediction', path.join(data, 'not-nifti.nii.gz'));
  await page.click('#score');
  await page.waitForSelector('#error:not([hidden])', { timeout: 20000 });
  const title = await page.textContent('#error strong');
  const detail = await page.textContent('#error .detail');
  check('bad file: problem title and detail shown', title === apiBad.title &&
    detail === apiBad.detail, title + ' / ' + detail);
  if (apiBad.field === 'prediction')
    check('bad file: the page says which file', /prediction file/.test(
      await page.textContent('#error .where')));
  await page.screenshot({ path: path.join(out, 'web-error.png'), fullPage: false });

  // 4. Probability report with every optional part (served by a stub of
  //    /v1/score in this page only): PR, calibration, heat map, lesions.
  await page.route('**/v1/score', (route) => route.fulfill({ status: 200,
    contentType: 'application/json', body: JSON.stringify(mockReport()) }));
  await page.setInputFiles('#prediction', path.join(data, 'pred.nii.gz'));
  await page.setInputFiles('#raters', path.join(data, 'ref.nii.gz'));
  await page.click('#score');
  await page.waitForSelector('#sec-grid:not([hidden])', { timeout: 20000 });
  check('PR curve drawn', await page.isVisible('#sec-pr') &&
    await inkedPixels(page, 'chart-pr') > 2000);
  check('calibration plot drawn', await page.isVisible('#sec-cal') &&
    await inkedPixels(page, 'chart-cal') > 2000);
  check('trade-off heat map drawn (4 Tversky + 3 F-beta rows x 2 classes)',
    await inkedPixels(page, 'chart-grid') > 5000 && await page.evaluate(() =>
      Chart.getChart('chart-grid').data.datasets[0].data.length) === 14);
  const lesionRows = await page.$$eval('#lesion-table tbody tr', (t) => t.map((r) => r.textContent));
  check('lesion counts shown', lesionRows.length === 2 && /Class 2/.test(lesionRows[1]),
    lesionRows.join(' | '));
  check('lesion HD95 undefined explained', (await page.textContent('#lesion-table'))
    .includes('undefined'));
  check('rater table shown', (await page.$$('#rater-table tbody tr')).length === 2);
  check('loss table shown (case and per-class names)',
    (await page.$$('#loss-table tbody tr')).length === 4);
  await page.screenshot({ path: path.join(out, 'web-probabilities.png'), fullPage: true });

  const csp2 = await page.evaluate(() => window.__csp);
  check('no CSP violations', csp2.length === 0, csp2.join('; '));
  check('no requests outside the daemon', offOrigin.length === 0, offOrigin.join(' '));
  const realProblems = problems.filter((p) => !/status of 40[01]/.test(p));
  check('no script errors in the console', realProblems.length === 0, realProblems.join(' | '));

  await browser.close();
  console.log('# browser part took ' + ((Date.now() - t0) / 1000).toFixed(1) + ' s');
}

main().then(() => process.exit(fails ? 1 : 0), (e) => {
  console.log('not ok - browser test crashed: ' + (e && e.stack || e));
  process.exit(1);
});
