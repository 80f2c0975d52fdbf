/* segscored's web page: send the files to POST /v1/score and show the
 * report (keys: /work/shared/DESIGN.md sections 2-4, api/openapi.yaml).
 * Plain browser JavaScript, no build step; charts by Chart.js and
 * chartjs-chart-matrix, served from this origin.  The bearer token lives
 * in the password field and this script's memory only.
 * SPDX-License-Identifier: MIT */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const PALETTE = ['#2f5fb3', '#d9822b', '#3c9a5f', '#b23a48', '#7b5ea7',
    '#2a9d9d', '#c9a227', '#6b6f76'];

  let lastReport = null;     /* parsed report of the last success */
  let lastText = '';         /* its exact bytes, for the JSON download */
  const charts = {};         /* id -> Chart, destroyed before redrawing */

  /*---- Words for undefined values ----------------------------------------*/

  const REASONS = {
    pred_empty: 'the prediction is empty for this class',
    ref_empty: 'the reference is empty for this class',
    both_empty: 'both the prediction and the reference are empty for this class',
    zero_denominator: 'the formula divides by zero here',
    not_finite: 'the value is not a finite number',
    no_valid_values: 'no class has a valid value to summarise',
  };
  const DISTANCE_NOTE = ' (a distance to an empty surface is infinite)';

  function reasonText(why, key) {
    let t = REASONS[why] || ('undefined: ' + why);
    const isDistance = /(^|\.)(hd\d*|assd|masd|asd_)/.test(key || '');
    if (isDistance && (why === 'pred_empty' || why === 'ref_empty'))
      t += DISTANCE_NOTE;
    return t;
  }

  /*---- Small helpers ------------------------------------------------------*/

  function get(obj, path) {
    let o = obj;
    for (const part of splitPath(path)) {
      if (o === null || typeof o !== 'object' || !(part in o))
        return undefined;
      o = o[part];
    }
    return o;
  }

  /* "boundary.nsd.1.5" -> ["boundary", "nsd", "1.5"]: keys of nsd and fbeta
   * are numbers written with a dot. */
  function splitPath(path) {
    const m = /^((?:.*?\.)?(?:nsd|fbeta))\.(.+)$/.exec(path);
    return m ? m[1].split('.').concat([m[2]]) : path.split('.');
  }

  /* The reason for a null at PATH in a class: the report names it by the
   * key inside its section ("hd95", "fbeta.0.5", "lesions.f1"). */
  function undefinedReason(cls, path) {
    const u = cls.undefined || {};
    if (path in u) return u[path];
    const inner = path.replace(/^(overlap|boundary|counts|tradeoffs)\./, '');
    if (inner in u) return u[inner];
    return null;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children)
      if (c !== null && c !== undefined)
        e.append(c instanceof Node ? c : String(c));
    return e;
  }

  /* A table row for a class, named for the tests by label or region. */
  function classRow(c) {
    return el('tr', { 'data-label': String(c.label !== undefined ? c.label : c.region) },
      el('td', { text: className(c) }));
  }

  function metricRow(c, cols, notes) {
    const tr = classRow(c);
    for (const col of cols) tr.append(metricCell(c, col.key, col.kind, notes, col.label));
    return tr;
  }

  function className(cls) {
    if (cls.region !== undefined) return String(cls.region);
    return 'Class ' + cls.label;
  }

  /* Scores to 4 decimals, mm to 2, mm³ to 1, counts whole. */
  function fmt(v, kind) {
    if (typeof v !== 'number') return String(v);
    if (kind === 'count') return v.toLocaleString('en-US');
    return v.toFixed(kind === 'mm' ? 2 : kind === 'mm3' ? 1 : 4);
  }

  function numKey(k) { return Number(k); }

  /*---- Form, files, drag and drop -----------------------------------------*/

  function wireDrop(zoneId, inputId) {
    const zone = $(zoneId), input = $(inputId);
    const mark = () => zone.classList.toggle('has-file', input.files.length > 0);
    input.addEventListener('change', mark);
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      const files = e.dataTransfer.files;
      if (!files.length) return;
      const dt = new DataTransfer();
      const take = input.multiple ? files.length : 1;
      for (let i = 0; i < take; i++) dt.items.add(files[i]);
      input.files = dt.files;
      mark();
    });
  }

  function numberList(text, what, integers) {
    const parts = text.split(/[\s,;]+/).filter((s) => s.length > 0);
    return parts.map((s) => {
      const v = Number(s);
      if (!Number.isFinite(v) || (integers && !Number.isInteger(v)))
        throw new Error(what + ': "' + s + '" is not ' +
          (integers ? 'a whole number' : 'a number'));
      return v;
    });
  }

  /* The options object; only keys the user set, so the server's defaults
   * (which depend on the data) apply otherwise. */
  function buildOptions() {
    const o = {};
    const surface = $('opt-surface').value;
    if (surface !== 'surfel') o.surface = surface;
    const nsd = numberList($('opt-nsd').value, 'NSD tolerances', false);
    if (nsd.length) o.nsd_tolerances_mm = nsd;
    const labels = numberList($('opt-labels').value, 'Classes', true);
    if (labels.length) o.labels = labels;
    if ($('opt-background').checked) o.include_background = true;
    const metrics = ['overlap', 'boundary', 'tradeoffs', 'lesions']
      .filter((m) => $('m-' + m).checked);
    if (metrics.join() !== 'overlap,boundary') o.metrics = metrics;
    const losses = $('opt-losses').value;
    if (losses === 'none') o.losses = [];
    else if (losses === 'all') o.losses = ['all'];
    else if (losses === 'list')
      o.losses = $('opt-loss-list').value.split(/[\s,;]+/).filter((s) => s);
    const extra = $('opt-extra').value.trim();
    if (extra) {
      let x;
      try {
        x = JSON.parse(extra);
      } catch (e) {
        throw new Error('More options: not valid JSON (' + e.message + ')');
      }
      if (x === null || typeof x !== 'object' || Array.isArray(x))
        throw new Error('More options: give a JSON object, e.g. {"threshold": 0.4}');
      Object.assign(o, x);
    }
    return o;
  }

  /*---- Progress and errors ------------------------------------------------*/

  function setBusy(busy) {
    $('score').disabled = busy;
    $('progress').hidden = !busy;
  }

  function setProgress(fraction, text) {
    const bar = $('progress-bar');
    if (fraction === null) bar.removeAttribute('value'); /* indeterminate */
    else bar.value = fraction;
    $('progress-text').textContent = text;
  }

  function showError(title, detail, meta, where) {
    const box = $('error');
    box.replaceChildren(el('strong', { text: title }));
    if (detail) box.append(el('p', { class: 'detail', text: detail }));
    if (where) box.append(el('p', { class: 'where', text: where }));
    if (meta) box.append(el('p', { class: 'meta', text: meta }));
    box.hidden = false;
  }

  /* A problem's "field" in words: which file or option to fix. */
  function fieldText(field) {
    if (typeof field !== 'string' || !field) return '';
    if (field === 'prediction') return 'Check the prediction file.';
    const m = /^reference(?:\[(\d+)\])?$/.exec(field);
    if (m) {
      const k = m[1] === undefined ? 0 : Number(m[1]);
      return k === 0 ? 'Check the reference file.'
        : 'Check rater file ' + k + ' (under "More raters").';
    }
    if (field === 'options') return 'Check the options.';
    return 'Check the option "' + field.replace(/^options\./, '') + '".';
  }

  function clearError() {
    $('error').hidden = true;
    $('error').replaceChildren();
  }

  /* problem+json (RFC 9457) to words; anything else by its status. */
  function showProblem(xhr) {
    const ctype = xhr.getResponseHeader('Content-Type') || '';
    let p = null;
    if (/json/.test(ctype)) {
      try { p = JSON.parse(xhr.responseText); } catch (e) { p = null; }
    }
    if (p && typeof p === 'object' && (p.title || p.detail)) {
      const meta = ['HTTP ' + (p.status || xhr.status)];
      if (p.type) meta.push('type ' + p.type);
      if (p.request_id) meta.push('request ' + p.request_id);
      showError(p.title || 'The server could not score these files',
        p.detail || '', meta.join(' \u00b7 '), fieldText(p.field));
      return;
    }
    showError('The server answered HTTP ' + xhr.status,
      (xhr.responseText || '').slice(0, 300));
  }

  /*---- Submit -------------------------------------------------------------*/

  function submit(ev) {
    ev.preventDefault();
    clearError();
    const pred = $('prediction').files[0], ref = $('reference').files[0];
    if (!pred || !ref) {
      showError('Choose two files', 'Both a prediction and a reference are needed.');
      return;
    }
    let options;
    try {
      options = buildOptions();
    } catch (e) {
      showError('Check the options', e.message);
      return;
    }
    const form = new FormData();
    form.append('prediction', pred, pred.name);
    form.append('reference', ref, ref.name);
    for (const f of $('raters').files) form.append('reference', f, f.name);
    if (Object.keys(options).length)
      form.append('options', JSON.stringify(options));

    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/score');
    const token = $('token').value.trim();
    if (token) xhr.setRequestHeader('Authorization', 'Bearer ' + token);
    xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable)
        setProgress(e.loaded / e.total,
          'Uploading ' + Math.round(100 * e.loaded / e.total) + '%');
    };
    xhr.upload.onload = () => setProgress(null, 'Scoring\u2026');
    xhr.onload = () => {
      setBusy(false);
      if (xhr.status === 200) {
        let report;
        try {
          report = JSON.parse(xhr.responseText);
        } catch (e) {
          showError('The report could not be read', e.message);
          return;
        }
        lastText = xhr.responseText;
        lastReport = report;
        render(report);
      } else {
        showProblem(xhr);
      }
    };
    xhr.onerror = () => {
      setBusy(false);
      showError('The server could not be reached',
        'Check that segscored is running and that the files are not larger than ' +
        'its upload limit.');
    };
    $('results').hidden = true; /* never show a report next to other files */
    setBusy(true);
    setProgress(0, 'Uploading 0%');
    xhr.send(form);
  }

  /*---- The report ---------------------------------------------------------*/

  function render(r) {
    $('results').hidden = false;
    const cls = Array.isArray(r.classes) ? r.classes : [];
    renderSummary(r);
    renderClassTable(r, cls);
    renderBars(r, cls);
    renderProb(cls);
    renderGrid(cls);
    renderLesions(cls);
    renderRaters(r, cls);
    renderLosses(r, cls);
  }

  function renderSummary(r) {
    const i = r.input || {};
    const bits = [];
    if (i.shape) bits.push(i.shape.join(' \u00d7 ') + ' voxels');
    if (i.spacing_mm) bits.push(i.spacing_mm.map((s) => +s.toFixed(4)).join(' \u00d7 ') + ' mm');
    if (i.prediction_kind) bits.push(i.prediction_kind +
      (i.channels > 1 ? ' (' + i.channels + ' channels)' : ''));
    const c = r.conventions || {};
    if (c.surface) bits.push(c.surface + ' surfaces');
    if (r.timing_ms && typeof r.timing_ms.total === 'number' && r.timing_ms.total >= 1)
      bits.push('scored in ' + r.timing_ms.total.toFixed(0) + ' ms');
    $('result-summary').textContent = bits.join(' \u00b7 ');
  }

  /* Columns of the per-class table: the key metrics the report holds. */
  function classColumns(r, cls) {
    const cols = [
      { key: 'overlap.dice', label: 'Dice' },
      { key: 'overlap.jaccard', label: 'Jaccard' },
      { key: 'overlap.precision', label: 'Precision' },
      { key: 'overlap.recall', label: 'Recall' },
    ];
    const pcts = (r.conventions && r.conventions.percentiles) || [95];
    for (const p of pcts)
      cols.push({ key: 'boundary.hd' + numberKey(p), label: 'HD' + numberKey(p), kind: 'mm' });
    cols.push({ key: 'boundary.hd', label: 'HD', kind: 'mm' });
    cols.push({ key: 'boundary.assd', label: 'ASSD', kind: 'mm' });
    const taus = new Set();
    for (const c of cls)
      for (const t of Object.keys(get(c, 'boundary.nsd') || {})) taus.add(t);
    for (const t of [...taus].sort((a, b) => numKey(a) - numKey(b)))
      cols.push({ key: 'boundary.nsd.' + t, label: 'NSD ' + t + ' mm' });
    cols.push({ key: 'counts.pred_volume_mm3', label: 'Vol. pred. (mm\u00b3)', kind: 'mm3' });
    cols.push({ key: 'counts.ref_volume_mm3', label: 'Vol. ref. (mm\u00b3)', kind: 'mm3' });
    return cols.filter((col) => cls.some((c) => get(c, col.key) !== undefined));
  }

  /* 95 -> "95", 99.5 -> "99.5": the report's shortest decimal. */
  function numberKey(v) { return String(Number(v)); }

  const STATUS_WORDS = {
    ok: 'ok', pred_empty: 'prediction empty', ref_empty: 'reference empty',
    both_empty: 'both empty',
  };

  /* One metric cell: the number, or "undefined" with a numbered note. */
  function metricCell(c, key, kind, notes, label) {
    const v = get(c, key);
    if (typeof v === 'number')
      return el('td', { text: fmt(v, kind), 'data-key': key, 'data-value': String(v) });
    if (v === null) {
      const why = undefinedReason(c, key) || 'not_finite';
      const text = reasonText(why, key);
      const n = notes.add(className(c), label, text);
      return el('td', { class: 'undef', title: text, 'data-key': key, 'data-value': 'null',
        'data-reason': why }, 'undefined', el('sup', { text: String(n) }));
    }
    return el('td', { text: '\u2013', 'data-key': key });
  }

  /* Footnotes for undefined cells, one per class and reason. */
  /* Footnotes for table cells, one per row and reason: undefined values,
   * and means taken over fewer classes than the table has. */
  function makeNotes() {
    const items = [];
    const find = (who, text, kind) => {
      let it = items.find((x) => x.who === who && x.text === text && x.kind === kind);
      if (!it) {
        it = { who, text, kind, labels: [], n: items.length + 1 };
        items.push(it);
      }
      return it;
    };
    const line = (it) => {
      const many = it.labels.length > 1;
      const what = it.labels.join(', ');
      if (it.kind === 'mean')
        return it.n + '. Mean: ' + what + (many ? ' are' : ' is') + ' the mean over ' +
          it.text + '; the other classes\u2019 values are undefined and left out.';
      return it.n + '. ' + it.who + ': ' + what + (many ? ' are' : ' is') +
        ' undefined because ' + it.text + '.';
    };
    return {
      add(who, label, text) {
        const it = find(who, text, 'undef');
        if (!it.labels.includes(label)) it.labels.push(label);
        return it.n;
      },
      addMean(label, nValid, nAll) {
        const it = find('Mean', nValid + ' of ' + nAll + ' classes', 'mean');
        if (!it.labels.includes(label)) it.labels.push(label);
        return it.n;
      },
      render(ul) {
        ul.replaceChildren(...items.map((it) => el('li', { text: line(it) })));
      },
    };
  }

  /* The summary's mean under the table: the same columns, from
   * summary.mean, with a note when some classes had no value. */
  function meanRow(r, cols, notes) {
    const s = r.summary || {};
    const tr = el('tr', { class: 'mean' }, el('td', { text: 'Mean' }), el('td'));
    for (const col of cols) {
      const inner = col.key.replace(/^(overlap|boundary)\./, '');
      const v = inner === col.key ? undefined : get(s.mean || {}, inner);
      if (typeof v !== 'number') {
        tr.append(el('td', v === null ? { class: 'undef', text: 'undefined',
          'data-key': inner, 'data-value': 'null' } : {}));
        continue;
      }
      const td = el('td', { text: fmt(v, col.kind), 'data-key': inner, 'data-value': String(v) });
      const nv = get(s.n_valid || {}, inner), nu = get(s.n_undefined || {}, inner);
      if (typeof nv === 'number' && nu > 0)
        td.append(el('sup', { text: String(notes.addMean(col.label, nv, nv + nu)) }));
      tr.append(td);
    }
    return el('tfoot', {}, tr);
  }

  /* Header cells; a leading "|" marks a left-aligned text column. */
  function headRow(labels) {
    return el('thead', {}, el('tr', {}, ...labels.map((l) => l.startsWith('|')
      ? el('th', { class: 'text', text: l.slice(1) }) : el('th', { text: l }))));
  }

  function renderClassTable(r, cls) {
    const cols = classColumns(r, cls);
    const notes = makeNotes();
    const table = $('class-table');
    const body = el('tbody');
    for (const c of cls) {
      const tr = classRow(c);
      tr.append(el('td', { class: 'text', text: STATUS_WORDS[c.status] || c.status || '' }));
      for (const col of cols) tr.append(metricCell(c, col.key, col.kind, notes, col.label));
      body.append(tr);
    }
    table.replaceChildren(headRow(['Class', '|Status', ...cols.map((c) => c.label +
      (c.kind === 'mm' ? ' (mm)' : ''))]), body);
    if (cls.length > 1 && r.summary && r.summary.mean) table.append(meanRow(r, cols, notes));
    notes.render($('undefined-notes'));
    if (!cls.length)
      $('undefined-notes').replaceChildren(el('li', { text: 'No classes were scored: neither ' +
        'volume has a label other than background (0) among the requested classes.' }));
  }

  function destroyChart(id) {
    if (charts[id]) {
      charts[id].destroy();
      delete charts[id];
    }
  }

  function newChart(id, config) {
    destroyChart(id);
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false,
      animation: false }, config.options || {});
    charts[id] = new Chart($(id), config);
    return charts[id];
  }

  function renderBars(r, cls) {
    const labels = cls.map(className);
    const p = numberKey(((r.conventions && r.conventions.percentiles) || [95])[0]);
    const dice = cls.map((c) => numOrNull(get(c, 'overlap.dice')));
    const hd = cls.map((c) => numOrNull(get(c, 'boundary.hd' + p)));
    const haveHd = cls.some((c) => get(c, 'boundary.hd' + p) !== undefined);
    $('bars-title').textContent = haveHd ? 'Dice and HD' + p + ' per class' : 'Dice per class';
    const datasets = [{ label: 'Dice', data: dice, yAxisID: 'y', backgroundColor: PALETTE[0] }];
    const scales = { y: { min: 0, max: 1, position: 'left', title: { display: true, text: 'Dice' } } };
    if (haveHd) {
      datasets.push({ label: 'HD' + p + ' (mm)', data: hd, yAxisID: 'y1',
        backgroundColor: PALETTE[1] });
      scales.y1 = { min: 0, position: 'right', grid: { drawOnChartArea: false },
        title: { display: true, text: 'HD' + p + ' (mm)' } };
    }
    newChart('chart-bars', { type: 'bar', data: { labels, datasets }, options: { scales } });
  }

  function numOrNull(v) { return typeof v === 'number' ? v : null; }

  /*---- Probability inputs: PR curve, calibration, scalar table ------------*/

  function renderProb(cls) {
    const withProb = cls.filter((c) => c.tradeoffs &&
      ['pr_curve', 'average_precision', 'brier', 'ece', 'calibration']
        .some((k) => c.tradeoffs[k] !== undefined));
    $('sec-prob').hidden = withProb.length === 0;
    destroyChart('chart-pr');
    destroyChart('chart-cal');
    if (!withProb.length) return;

    const cols = [
      { key: 'tradeoffs.average_precision', label: 'Average precision' },
      { key: 'tradeoffs.best_threshold.threshold', label: 'Best threshold' },
      { key: 'tradeoffs.best_threshold.dice', label: 'Dice at best threshold' },
      { key: 'tradeoffs.brier', label: 'Brier' },
      { key: 'tradeoffs.ece', label: 'ECE' },
    ].filter((col) => withProb.some((c) => get(c, col.key) !== undefined));
    const notes = makeNotes();
    const body = el('tbody');
    for (const c of withProb) body.append(metricRow(c, cols, notes));
    $('prob-table').replaceChildren(headRow(['Class', ...cols.map((c) => c.label)]), body);
    notes.render($('prob-notes'));

    const pr = withProb.filter((c) => c.tradeoffs.pr_curve);
    $('sec-pr').hidden = pr.length === 0;
    if (pr.length) {
      newChart('chart-pr', {
        type: 'scatter',
        data: {
          datasets: pr.map((c, k) => ({
            label: className(c) + apText(c),
            data: curvePoints(c.tradeoffs.pr_curve.recall, c.tradeoffs.pr_curve.precision),
            showLine: true, pointRadius: 0, borderWidth: 2,
            borderColor: PALETTE[k % PALETTE.length],
            backgroundColor: PALETTE[k % PALETTE.length],
          })),
        },
        options: { scales: {
          x: { min: 0, max: 1, title: { display: true, text: 'Recall' } },
          y: { min: 0, max: 1, title: { display: true, text: 'Precision' } },
        } },
      });
    }

    const cal = withProb.filter((c) => calibrationPoints(c.tradeoffs.calibration).length);
    $('sec-cal').hidden = cal.length === 0;
    $('prob-charts').classList.toggle('single', !pr.length || !cal.length);
    if (cal.length) {
      const datasets = cal.map((c, k) => ({
        label: className(c),
        data: calibrationPoints(c.tradeoffs.calibration),
        showLine: true, pointRadius: 3, borderWidth: 2,
        borderColor: PALETTE[k % PALETTE.length],
        backgroundColor: PALETTE[k % PALETTE.length],
      }));
      datasets.push({ label: 'perfectly calibrated', data: [{ x: 0, y: 0 }, { x: 1, y: 1 }],
        showLine: true, pointRadius: 0, borderDash: [5, 4], borderWidth: 1,
        borderColor: '#8a8f98', backgroundColor: '#8a8f98' });
      newChart('chart-cal', {
        type: 'scatter',
        data: { datasets },
        options: { scales: {
          x: { min: 0, max: 1, title: { display: true, text: 'Mean predicted probability' } },
          y: { min: 0, max: 1, title: { display: true, text: 'Observed frequency' } },
        } },
      });
    }
  }

  function apText(c) {
    const ap = c.tradeoffs.average_precision;
    return typeof ap === 'number' ? ' (AP ' + ap.toFixed(3) + ')' : '';
  }

  function curvePoints(xs, ys) {
    const pts = [];
    for (let i = 0; i < Math.min(xs.length, ys.length); i++)
      if (typeof xs[i] === 'number' && typeof ys[i] === 'number')
        pts.push({ x: xs[i], y: ys[i] });
    return pts;
  }

  /* Reliability bins, if the report carries them: parallel arrays
   * {confidence, accuracy} (or mean_predicted / observed), empty bins null. */
  function calibrationPoints(cal) {
    if (!cal || typeof cal !== 'object') return [];
    const xs = cal.confidence || cal.mean_predicted;
    const ys = cal.accuracy || cal.observed;
    return Array.isArray(xs) && Array.isArray(ys) ? curvePoints(xs, ys) : [];
  }

  /*---- Trade-off grid: Tversky (alpha, beta) and F-beta as a heat map -----*/

  function gridRows(cls) {
    const rows = [];
    const seen = new Set();
    for (const c of cls) {
      const t = c.tradeoffs || {};
      for (const e of Array.isArray(t.tversky) ? t.tversky : []) {
        const name = 'Tversky \u03b1=' + e.alpha + ' \u03b2=' + e.beta;
        if (!seen.has(name)) { seen.add(name); rows.push(name); }
      }
      for (const b of Object.keys(t.fbeta || {}).sort((a, b2) => numKey(a) - numKey(b2))) {
        const name = 'F\u03b2 \u03b2=' + b;
        if (!seen.has(name)) { seen.add(name); rows.push(name); }
      }
    }
    return rows;
  }

  function gridCells(cls) {
    const cells = [];
    for (const c of cls) {
      const t = c.tradeoffs || {};
      for (const e of Array.isArray(t.tversky) ? t.tversky : [])
        cells.push({ x: className(c), y: 'Tversky \u03b1=' + e.alpha + ' \u03b2=' + e.beta,
          v: numOrNull(e.index) });
      for (const [b, v] of Object.entries(t.fbeta || {}))
        cells.push({ x: className(c), y: 'F\u03b2 \u03b2=' + b, v: numOrNull(v) });
    }
    return cells;
  }

  /* Position of V in the range of the grid's values (a flat grid: 1). */
  function heatT(v, lo, hi) {
    return hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 1;
  }

  /* Lowest value shown -> pale, highest -> deep blue; null -> grey. */
  function heat(v, lo, hi) {
    if (typeof v !== 'number') return '#e4e6ea';
    const t = 0.1 + 0.9 * heatT(v, lo, hi);
    const pale = [240, 244, 250], deep = [22, 58, 130];
    const c = pale.map((p, i) => Math.round(p + (deep[i] - p) * t));
    return 'rgb(' + c.join(',') + ')';
  }

  /* Writes each cell's value in it (Chart.js draws, this only labels). */
  const cellLabels = {
    id: 'segscoreCellLabels',
    afterDatasetsDraw(chart, args, opts) {
      const ctx = chart.ctx;
      const meta = chart.getDatasetMeta(0);
      ctx.save();
      ctx.font = '12px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      meta.data.forEach((elem, i) => {
        const d = chart.data.datasets[0].data[i];
        if (elem.width < 34 || elem.height < 14) return; /* too small to label */
        const p = elem.getCenterPoint();
        ctx.fillStyle = typeof d.v === 'number' && heatT(d.v, opts.lo, opts.hi) > 0.45
          ? '#fff' : '#1d2330';
        ctx.fillText(typeof d.v === 'number' ? d.v.toFixed(3) : 'n/a', p.x, p.y);
      });
      ctx.restore();
    },
  };

  function renderGrid(cls) {
    const rows = gridRows(cls);
    $('sec-grid').hidden = rows.length === 0;
    destroyChart('chart-grid');
    if (!rows.length) return;
    const xs = cls.filter((c) => c.tradeoffs).map(className);
    $('grid-box').style.height = Math.max(160, 44 + 30 * rows.length) + 'px';
    const cells = gridCells(cls);
    const vals = cells.map((c) => c.v).filter((v) => typeof v === 'number');
    const lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
    $('grid-range').textContent = vals.length ? 'Colours span ' + lo.toFixed(3) + ' (pale) to ' +
      hi.toFixed(3) + ' (dark).' : '';
    newChart('chart-grid', {
      type: 'matrix',
      data: {
        datasets: [{
          label: 'score',
          data: cells,
          backgroundColor: (ctx) => heat(ctx.raw && ctx.raw.v, lo, hi),
          borderColor: '#ffffff',
          borderWidth: 1,
          width: ({ chart }) => ((chart.chartArea || {}).width || 0) / xs.length - 1,
          height: ({ chart }) => ((chart.chartArea || {}).height || 0) / rows.length - 1,
        }],
      },
      options: {
        plugins: {
          legend: { display: false },
          segscoreCellLabels: { lo, hi },
          tooltip: { callbacks: {
            title: (items) => items[0].raw.x,
            label: (item) => item.raw.y + ': ' +
              (typeof item.raw.v === 'number' ? item.raw.v.toFixed(4) : 'undefined'),
          } },
        },
        scales: {
          x: { type: 'category', labels: xs, offset: true, grid: { display: false },
            position: 'top' },
          /* the matrix chart draws the last category on top */
          y: { type: 'category', labels: rows.slice().reverse(), offset: true,
            grid: { display: false } },
        },
      },
      plugins: [cellLabels],
    });
  }

  /*---- Lesions, raters, losses --------------------------------------------*/

  function renderLesions(cls) {
    const withL = cls.filter((c) => c.lesions);
    $('sec-lesions').hidden = withL.length === 0;
    if (!withL.length) return;
    const cols = [
      { key: 'lesions.n_reference', label: 'In reference', kind: 'count' },
      { key: 'lesions.n_prediction', label: 'In prediction', kind: 'count' },
      { key: 'lesions.tp', label: 'Found (TP)', kind: 'count' },
      { key: 'lesions.fp', label: 'Extra (FP)', kind: 'count' },
      { key: 'lesions.fn', label: 'Missed (FN)', kind: 'count' },
      { key: 'lesions.precision', label: 'Precision' },
      { key: 'lesions.recall', label: 'Recall' },
      { key: 'lesions.f1', label: 'F1' },
      { key: 'lesions.lesion_dice', label: 'Mean Dice' },
      { key: 'lesions.lesion_hd95', label: 'Mean HD95', kind: 'mm' },
    ].filter((col) => withL.some((c) => get(c, col.key) !== undefined));
    const notes = makeNotes();
    const body = el('tbody');
    for (const c of withL) body.append(metricRow(c, cols, notes));
    $('lesion-table').replaceChildren(headRow(['Class', ...cols.map((c) => c.label +
      (c.kind === 'mm' ? ' (mm)' : ''))]), body);
    notes.render($('lesion-notes'));
  }

  function renderRaters(r, cls) {
    const raters = Array.isArray(r.raters) ? r.raters : [];
    $('sec-raters').hidden = raters.length === 0;
    if (!raters.length) return;
    const cons = r.consensus || {};
    $('raters-note').textContent = 'The table above scores the prediction against the ' +
      (cons.rule ? cons.rule.replace(/_/g, ' ') : 'consensus') + ' of ' + raters.length +
      ' references; here its Dice against each one, and the references\u2019 Dice range ' +
      'among themselves.';
    const ir = (r.inter_rater && r.inter_rater.classes) || [];
    const notes = makeNotes();
    const body = el('tbody');
    cls.forEach((c, i) => {
      const tr = classRow(c);
      tr.append(metricCell(c, 'overlap.dice', null, notes, 'Dice'));
      for (const rt of raters) {
        const rc = (rt.classes || []).find((x) => x.label === c.label && x.region === c.region);
        tr.append(rc ? metricCell(rc, 'overlap.dice', null, notes, 'Dice') : el('td', { text: '\u2013' }));
      }
      const range = ir[i] && ir[i].dice;
      let span = '\u2013';
      if (range && typeof range.min === 'number')
        span = range.min === range.max ? fmt(range.min)
          : fmt(range.min) + ' \u2013 ' + fmt(range.max);
      tr.append(el('td', { text: span }));
      body.append(tr);
    });
    $('rater-table').replaceChildren(headRow(['Class', 'Dice vs consensus',
      ...raters.map((rt, k) => 'Dice vs reference ' + (rt.reference || k + 1)),
      'Inter-rater Dice']), body);
  }

  function renderLosses(r, cls) {
    const names = new Set(Object.keys((r.summary && r.summary.losses) || {}));
    for (const c of cls) for (const k of Object.keys(c.losses || {})) names.add(k);
    $('sec-losses').hidden = names.size === 0;
    if (!names.size) return;
    const kind = r.input && r.input.prediction_kind;
    $('losses-note').textContent = 'Lower is better; overlap losses are 1 \u2212 score' +
      (kind === 'labels' ? '; the prediction is a label map, so these are "hard" losses.' : '.');
    const notes = makeNotes();
    const body = el('tbody');
    for (const n of [...names].sort()) {
      const tr = el('tr', {}, el('td', { text: n }));
      const sv = r.summary && r.summary.losses ? r.summary.losses[n] : undefined;
      const why = ((r.summary && r.summary.losses_undefined) || {})[n];
      if (sv === null) {
        const text = reasonText(why || 'not_finite', n);
        const k = notes.add('Case', n + ' loss', text);
        tr.append(el('td', { class: 'undef', title: text }, 'undefined', el('sup', { text: String(k) })));
      } else {
        tr.append(el('td', { text: typeof sv === 'number' ? fmt(sv) : '\u2013' }));
      }
      for (const c of cls) tr.append(metricCell(c, 'losses.' + n, null, notes, n + ' loss'));
      body.append(tr);
    }
    $('loss-table').replaceChildren(headRow(['Loss', 'Case', ...cls.map(className)]), body);
    notes.render($('loss-notes'));
  }

  /*---- Downloads ----------------------------------------------------------*/

  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  /* Scalar leaves of a class, "section.key" -> value; arrays (curves,
   * lesion lists) stay in the JSON. */
  function flatten(obj, prefix, out) {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? prefix + '.' + k : k;
      if (k === 'undefined' && !prefix) continue;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else if (!Array.isArray(v)) out[key] = v;
    }
    return out;
  }

  function csvCell(v) {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function reportCsv(r) {
    const rows = (r.classes || []).map((c) => {
      const f = flatten(c, '', {});
      f.undefined = Object.entries(c.undefined || {}).map(([k, v]) => k + '=' + v).join('; ');
      return f;
    });
    const cols = [];
    for (const row of rows) for (const k of Object.keys(row)) if (!cols.includes(k)) cols.push(k);
    const u = cols.indexOf('undefined');
    if (u >= 0) cols.push(cols.splice(u, 1)[0]);
    const lines = [cols.join(',')];
    for (const row of rows) lines.push(cols.map((k) => csvCell(row[k])).join(','));
    return lines.join('\r\n') + '\r\n';
  }

  /*---- Start ----------------------------------------------------------------*/

  function start() {
    wireDrop('drop-prediction', 'prediction');
    wireDrop('drop-reference', 'reference');
    wireDrop('drop-raters', 'raters');
    /* A file dropped outside a zone must not navigate away from the page. */
    window.addEventListener('dragover', (e) => e.preventDefault());
    window.addEventListener('drop', (e) => e.preventDefault());
    $('opt-losses').addEventListener('change', () => {
      $('opt-loss-list').hidden = $('opt-losses').value !== 'list';
    });
    $('form').addEventListener('submit', submit);
    $('dl-json').addEventListener('click', () => {
      if (lastReport) download('segscore-report.json', 'application/json', lastText);
    });
    $('dl-csv').addEventListener('click', () => {
      if (lastReport) download('segscore-report.csv', 'text/csv', reportCsv(lastReport));
    });
    if (window.Chart && window['chartjs-chart-matrix']) {
      const m = window['chartjs-chart-matrix'];
      Chart.register(m.MatrixController, m.MatrixElement);
    }
    document.body.setAttribute('data-ready', '1');
  }

  start();
})();
