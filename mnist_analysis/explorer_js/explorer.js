// The explorer's browser side: one Bokeh CustomJS model of the page runs this body once and
// keeps a promise of the result (source._mx); every callback asks it for that result
// (lib.execute(...)). Arguments (see interactive.explorer): source, payload, view, plot,
// renderer, hover_div, details, gallery, legend, bar, review_div (null without a review list).
// Nothing here is fetched: the page is offline.
// The points' columns (but x and y), their neighbours, the review list and the sprite sheets travel outside Bokeh's
// own data (payload.data in a widget; in a static page, two script elements that are never run):
// the browser decodes them natively (base64, gzip) instead of in JavaScript.
if (source._mx) return source._mx.then((api) => api.install());
const meta = JSON.parse(source.tags[0]);
const specs = meta.specs;
const n = source.data.x.length;
const index = cb_context.index;
const state = {colour: meta.colour_by, focus: -1, dragging: false, galleryToken: 0, hoverToken: 0, verdicts: {}};

// ---- the payload: columns and neighbours (one gzip of little-endian arrays), sprite sheets -----
function payloadParts(k) {  // 0: the columns (one text), 1: the sprite sheets
  const parts = payload.data.parts;  // a widget carries them in its model, a static page in the page
  if (parts?.length) return k === 0 ? parts.slice(0, 1) : parts.slice(1);
  const element = document.getElementById(`${payload.tags[0]}-${k}`);
  if (!element) throw new Error(`explorer: its data (#${payload.tags[0]}-${k}) is missing from the page`);
  return element.textContent.split(" ");
}
function fromBase64(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
const ARRAYS = {uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array, float32: Float32Array};
const cols = {};  // column name -> typed array, one value per point
let neighbours = null;  // meta.neighbours[3] row positions per point, nearest first
let review = null;  // the label-review list: {split, entries (best first), csv}; null without one
async function decodeColumns() {
  const stream = new Blob([fromBase64(payloadParts(0)[0])]).stream();
  const packed = await new Response(stream.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
  for (const [name, [dtype, offset, length]] of Object.entries(meta.layout)) {
    cols[name] = new ARRAYS[dtype](packed, offset, length);
  }
  const [dtype, offset, length] = meta.neighbours;
  neighbours = new ARRAYS[dtype](packed, offset, length);
  if (meta.review) {
    const [, start, size] = meta.review;
    review = JSON.parse(new TextDecoder().decode(new Uint8Array(packed, start, size)));
  }
}
let sheetTexts = null;

// ---- thumbnails from the sprite sheets -----------------------------------------------------
const decoded = [];
function sheet(k) {
  if (!decoded[k]) {
    sheetTexts = sheetTexts || payloadParts(1);
    const im = new Image();
    im.src = `data:image/png;base64,${sheetTexts[k]}`;
    decoded[k] = im.decode().then(() => im);
  }
  return decoded[k];
}
const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]);
function value(name, i) {
  const s = specs[name];
  const v = cols[name][i];
  if (s.names) return s.names[v];
  if (s.kind === "float") return Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3)) : "NaN";
  return String(v);
}
async function thumb(i, scale) {
  const per = meta.tiles * meta.tiles;
  const t = i % per;
  const im = await sheet(Math.floor(i / per));
  const c = document.createElement("canvas");
  c.width = meta.w * scale;
  c.height = meta.h * scale;
  const g = c.getContext("2d");
  g.imageSmoothingEnabled = false;
  const [x, y] = [(t % meta.tiles) * meta.w, Math.floor(t / meta.tiles) * meta.h];
  g.drawImage(im, x, y, meta.w, meta.h, 0, 0, c.width, c.height);
  const title = esc(meta.ids.map((c) => value(c, i)).join(" "));
  return `<img class="mx-thumb" data-row="${i}" title="${title}" src="${c.toDataURL()}" ` +
    `width="${c.width}" height="${c.height}" style="border:1px solid #ddd;margin:1px;cursor:pointer">`;
}
const caption = (i) => meta.ids.map((c) => esc(value(c, i))).join(" #");
let writerRows = null;
function sameWriter(i) {
  if (!meta.writer) return [];
  if (!writerRows) {
    writerRows = new Map();
    const w = cols[meta.writer];
    for (let j = 0; j < n; j++) {
      if (!writerRows.has(w[j])) writerRows.set(w[j], []);
      writerRows.get(w[j]).push(j);
    }
  }
  return writerRows.get(cols[meta.writer][i]).filter((j) => j !== i);
}

// ---- colours: one packed RGBA per point, and the legend or colour bar ----------------------
const parse = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
const colours = new Uint8Array(3 * n);
function palette(name) {
  const s = specs[name];
  return s.palette || meta.viridis;
}
function recolourPoints(name) {
  const s = specs[name];
  const col = cols[name];
  const pal = palette(name).map(parse);
  const grey = parse(meta.missing);
  for (let i = 0; i < n; i++) {
    let rgb;
    if (s.palette) {
      const k = s.names ? col[i] : col[i] - s.low;
      rgb = pal[((k % pal.length) + pal.length) % pal.length];
    } else {
      const v = col[i];
      if (!Number.isFinite(v)) rgb = grey;
      else {
        const t = (v - s.low) / Math.max(s.high - s.low, 1e-12);
        rgb = pal[Math.min(pal.length - 1, Math.max(0, Math.floor(t * pal.length)))];
      }
    }
    colours[3 * i] = rgb[0];
    colours[3 * i + 1] = rgb[1];
    colours[3 * i + 2] = rgb[2];
  }
}
function legendHtml(name) {  // as interactive._legend_html writes the first one
  const s = specs[name];
  const head = `<div class="mx-legend-items" data-column="${esc(name)}"><b>${esc(name)}</b>: `;
  if (!s.palette) return `${head}colour bar at the right</div>`;
  const names = s.names || Array.from({length: s.high - s.low + 1}, (_, k) => String(s.low + k));
  const pal = s.palette;
  return `${head + names.map((v, k) =>
    `<span class="mx-legend-item" data-value="${esc(v)}" data-colour="${pal[k % pal.length]}" ` +
    "style=\"white-space:nowrap;margin-right:8px\"><span style=\"display:inline-block;width:10px;height:10px;" +
    `margin-right:3px;background:${pal[k % pal.length]}"></span>${esc(v)}</span> `).join("")}</div>`;
}

// ---- drawing the points: one bitmap per paint instead of 70,000 canvas paths ----------------
// While the pointer drags the map (panning moves it without changing its scale), the last
// bitmap is drawn shifted instead of drawing every point again; the release redraws in full.
let image = null;
let bitmap = null;
let drawn = null;  // what the bitmap shows: the ranges and the size of the frame, and if it was shifted
let firstPaint = true;
let painted = null;
const firstPainted = new Promise((resolve) => { painted = resolve; });  // the review list waits for the map
function ranges(rv) {
  const frame = rv.plot_view.frame;
  return {x0: frame.x_range.start, x1: frame.x_range.end, y0: frame.y_range.start, y1: frame.y_range.end};
}
function shifted(rv, ctx, box) {  // the last bitmap moved with the map, if only the map's position changed
  const now = ranges(rv);
  const same = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-300);
  if (!state.dragging || !drawn || drawn.width !== box.width || drawn.height !== box.height ||
      !same(now.x1 - now.x0, drawn.x1 - drawn.x0) || !same(now.y1 - now.y0, drawn.y1 - drawn.y0)) return false;
  const dx = (drawn.x0 - now.x0) / (now.x1 - now.x0) * box.width;
  const dy = (now.y1 - drawn.y1) / (now.y1 - now.y0) * box.height;
  if (dx === 0 && dy === 0) return false;  // not moved: something else changed, draw it
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.left, box.top, box.width, box.height);
  ctx.clip();
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(box.left, box.top, box.width, box.height);
  ctx.drawImage(bitmap, box.left + dx, box.top + dy, box.width, box.height);
  ctx.restore();
  drawn.shifted = true;
  ring(rv, ctx);
  return true;
}
function paintPoints(rv, ctx) {
  const box = rv.plot_view.frame.bbox;
  if (shifted(rv, ctx, box)) return;
  const glyph = rv.glyph;
  glyph.map_data();  // screen positions for this view; hit tests use them too
  const full = rv.all_indices.ones();  // subset position -> row
  const {sx, sy} = glyph;
  const ratio = rv.plot_view.canvas_view.pixel_ratio || 1;
  const w = Math.max(1, Math.round(box.width * ratio));
  const h = Math.max(1, Math.round(box.height * ratio));
  if (!image || image.width !== w || image.height !== h) {
    bitmap = document.createElement("canvas");
    bitmap.width = w;
    bitmap.height = h;
    image = bitmap.getContext("2d").createImageData(w, h);
  }
  const px = image.data;
  px.fill(255);
  const selected = source.selected.indices;
  const isSelected = selected.length ? new Uint8Array(n) : null;
  if (isSelected) for (const i of selected) isSelected[i] = 1;
  const radius = Math.max(1, Math.round(meta.size * ratio / 2));
  const left = box.left;
  const top = box.top;
  function dot(i, x0, y0, alpha) {
    const r = colours[3 * i];
    const g = colours[3 * i + 1];
    const b = colours[3 * i + 2];
    for (let y = Math.max(0, y0 - radius + 1); y < Math.min(h, y0 + radius); y++) {
      let p = 4 * (y * w + Math.max(0, x0 - radius + 1));
      for (let x = Math.max(0, x0 - radius + 1); x < Math.min(w, x0 + radius); x++, p += 4) {
        px[p] += alpha * (r - px[p]);
        px[p + 1] += alpha * (g - px[p + 1]);
        px[p + 2] += alpha * (b - px[p + 2]);
      }
    }
  }
  for (let pass = 0; pass < (isSelected ? 2 : 1); pass++) {
    const alpha = isSelected ? (pass === 0 ? meta.faded_alpha : meta.selected_alpha) : meta.alpha;
    for (let k = 0; k < full.length; k++) {
      const i = full[k];
      if (isSelected && isSelected[i] !== pass) continue;
      const x = Math.round((sx[k] - left) * ratio);
      const y = Math.round((sy[k] - top) * ratio);
      if (x > -radius && y > -radius && x < w + radius && y < h + radius) dot(i, x, y, alpha);
    }
  }
  bitmap.getContext("2d").putImageData(image, 0, 0);
  ctx.drawImage(bitmap, left, top, box.width, box.height);
  drawn = {...ranges(rv), width: box.width, height: box.height, shifted: false};
  if (firstPaint) {
    firstPaint = false;
    performance.mark("mx-points-painted");  // the benchmark's first render waits for it
    painted();
  }
  ring(rv, ctx);
}
function ring(rv, ctx) {  // the found or clicked digit: a ring around it
  const i = state.focus;
  if (i < 0 || !rv.all_indices.get(i)) return;
  const x = rv.coordinates.x_scale.compute(source.data.x[i]);
  const y = rv.coordinates.y_scale.compute(source.data.y[i]);
  ctx.save();
  ctx.lineWidth = 2;
  for (const [colour, r] of [["#ffffff", 10], ["#000000", 8]]) {
    ctx.beginPath();
    ctx.strokeStyle = colour;
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.restore();
}

// ---- wiring into the page's views (again for every new view of the same document) ----------
function onClick(event) {
  const path = event.composedPath();
  const step = path.find((e) => e.dataset && e.dataset.reviewStep !== undefined);
  if (step) {
    api.reviewStep(Number(step.dataset.reviewStep));
    return;
  }
  const verdict = path.find((e) => e.dataset && e.dataset.verdict !== undefined);
  if (verdict) {
    api.judge(Number(verdict.closest(".mx-review-item").dataset.row), verdict.dataset.verdict);
    return;
  }
  if (path.some((e) => e.dataset && e.dataset.reviewDownload !== undefined)) {
    api.downloadReview();
    return;
  }
  const target = path.find((e) => e.dataset && e.dataset.row !== undefined);
  if (target && Number(target.dataset.row) >= 0) api.focus(Number(target.dataset.row));
}
function everyFrame(pv) {
  // Bokeh paints at most once per 1/60 s *and then* waits for the next animation frame, which in
  // practice is every other frame: 30 redraws per second however little a redraw costs. The
  // explorer's redraws are cheap (a shifted bitmap, an outline), so it paints at the next frame.
  let request = null;
  let waiting = [];
  pv.throttled_paint = () => new Promise((resolve, reject) => {
    waiting.push([resolve, reject]);
    if (request !== null) return;
    request = requestAnimationFrame(() => {
      const settle = waiting;
      request = null;
      waiting = [];
      try {
        if (!pv.is_destroyed) pv.repaint();
        for (const [done] of settle) done();
      } catch (error) {
        for (const [, failed] of settle) failed(error);
      }
    });
  });
}
function install() {
  const pv = index.find_one(plot);
  if (pv && !pv._mx) {
    pv._mx = true;
    everyFrame(pv);
    const rv = pv.computed_renderer_views.find((v) => v.model === renderer);
    rv._paint = (ctx) => paintPoints(rv, ctx);
    const el = pv.canvas_view.el;
    el.addEventListener("pointerdown", () => { state.dragging = true; }, true);
    window.addEventListener("pointerup", () => {
      state.dragging = false;
      if (drawn?.shifted) pv.request_paint(rv);  // the map in full where it came to rest
    }, true);
    pv.request_paint(rv);
  }
  for (const div of [details, gallery, review_div]) {
    if (!div) continue;
    const dv = index.find_one(div);
    if (dv && !dv._mx) {
      dv._mx = true;
      dv.el.addEventListener("click", onClick);
    }
  }
  if (!renderer.visible) renderer.visible = true;
  if (review && !state.reviewShown) {
    state.reviewShown = true;
    firstPainted.then(() => setTimeout(api.showReview, 0));  // after the first render, not in its way
  } else if (review) markReview();
  return api;
}

// ---- the label-review list: the top candidates, each a card that selects its digit ----------
// A reviewer can give each candidate a verdict (VERDICTS); they go into the downloaded CSV and, in a
// widget, back to Python (the panel's tags: Explorer.verdicts).
const VERDICTS = {wrong: ["wrong", "the label is wrong", "#fde0dc"], ok: ["ok", "the label is right", "#e3f4e1"],
  unsure: ["?", "unsure", "#fff6d5"]};
const VERDICT_BUTTON = "font-size:10px;padding:0 4px;margin:2px 2px 0 0;cursor:pointer";
const REVIEW_ITEM = "display:inline-block;vertical-align:top;width:172px;margin:2px;padding:3px;" +
  "border:2px solid #e5e5e5;border-radius:3px;font-size:11px;line-height:1.35;cursor:pointer";
function reviewCard(e, image) {
  const votes = Object.entries(e.votes).map(([m, v]) => (v === e.given ? `${esc(m)} ${v}` :
    `<span style="color:#d62728" data-vote="${esc(m)}">${esc(m)} ${v}</span>`)).join(", ");
  const p = e.probability === undefined || e.probability === null ? "" : ` (p ${e.probability.toFixed(2)})`;
  const flag = e.flagged ? " <span style=\"color:#d62728\" title=\"is_label_issue\">flagged</span>" : "";
  const disagreeing = e.disagreeing === undefined ? "" :
    `<br>disagree: <span class="mx-review-disagreeing">${e.disagreeing.split("+").map(esc).join(", ")}</span>`;
  return `<div class="mx-review-item" data-row="${e.row}" data-rank="${e.rank}" style="${REVIEW_ITEM}">` +
    `<div style="float:left;margin-right:4px">${image}</div><b>#${e.rank}</b> ${esc(e.split)} ${e.index}${flag}<br>` +
    `given <b class="mx-review-given">${e.given}</b> &rarr; <b class="mx-review-suggested">${e.suggested}</b>${p}` +
    `<br>${esc(e.writer_group)}<div style="clear:both">votes: <span class="mx-review-votes">${votes}</span>` +
    `${disagreeing}</div><div class="mx-review-verdicts">${Object.entries(VERDICTS).map(([v, [text, title]]) =>
      `<button data-verdict="${v}" title="${title}" style="${VERDICT_BUTTON}">${text}</button>`).join("")}</div></div>`;
}
function reviewItems() {  // the cards on screen, in every view of the panel
  const view = review_div && index.find_one(review_div);
  const root = view?.shadow_el || view?.el;
  return root ? Array.from(root.querySelectorAll(".mx-review-item")) : [];
}
function markReview() {  // ring the card of the selected digit, colour the cards by their verdict
  const items = reviewItems();
  for (const item of items) {
    const on = Number(item.dataset.row) === state.focus;
    const verdict = state.verdicts[item.dataset.row] || "";
    item.style.borderColor = on ? "#000000" : "#e5e5e5";
    item.dataset.selected = on ? "true" : "false";
    item.dataset.judged = verdict;
    item.style.background = verdict ? VERDICTS[verdict][2] : "";
    for (const button of item.querySelectorAll("button[data-verdict]")) {
      button.style.fontWeight = button.dataset.verdict === verdict ? "bold" : "";
    }
  }
  const count = items[0]?.getRootNode().querySelector(".mx-review-count");
  if (count) count.textContent = `${Object.keys(state.verdicts).length} of ${review.entries.length} judged`;
}
function reviewCsv() {  // the list's CSV, with each candidate's verdict
  const lines = review.csv.trimEnd().split("\n");
  return `${[`${lines[0]},verdict`, ...review.entries.map((e, k) =>
    `${lines[k + 1]},${state.verdicts[e.row] || ""}`)].join("\n")}\n`;
}

// ---- what the callbacks do ---------------------------------------------------------------

const HOVER_HINT = "<i>hover a point</i>";
const DETAILS_HINT = "<i>click a point, or find one</i>";
const GALLERY_HINT = "<i>box or lasso select to list digits</i>";
const api = {
  state,
  install,
  hover: async (indices) => {
    if (state.dragging || !indices.length) return;  // no hover work while panning or selecting
    const token = ++state.hoverToken;
    const i = indices[0];
    const image = await thumb(i, 3);
    if (token !== state.hoverToken) return;
    const shown = ["label", ...meta.ids, meta.writer].filter((c, k, a) => c && specs[c] && a.indexOf(c) === k);
    hover_div.text = `<div class="mx-hover-row" data-row="${i}">${image}<br>` +
      shown.map((c) => `${esc(c)}: ${esc(value(c, i))}`).join("<br>") + "</div>";
  },
  show: async (i) => {
    const k = meta.neighbours[3];
    const nn = Array.from(neighbours.slice(i * k, i * k + k));
    const others = sameWriter(i);
    const writer = others.slice(0, 20);
    const strip = (rows) => Promise.all(rows.map((j) => thumb(j, 1))).then((t) => t.join(""));
    const [big, nnImages, writerImages] = await Promise.all([thumb(i, 4), strip(nn), strip(writer)]);
    if (state.focus !== i) return;
    const rows = Object.keys(specs).map((c) =>
      `<tr><td>${esc(c)}</td><td data-column="${esc(c)}">${esc(value(c, i))}</td></tr>`).join("");
    details.text = `<div class="mx-detail" data-row="${i}"><b>${caption(i)}</b><br>${big}` +
      `<div class="mx-neighbours" data-rows="${nn.join(",")}"><b>${k} nearest in pixel space</b><br>${nnImages}</div>` +
      `<div class="mx-writer" data-rows="${writer.join(",")}"><b>same writer (${others.length} more)</b><br>` +
      `${writerImages}</div><table style="font-size:11px">${rows}</table></div>`;
  },
  focus: (i) => {  // select one digit, mark it on the map and show its details
    source.selected.indices = [i];
  },
  showReview: async () => {
    const entries = review.entries;
    const images = await Promise.all(entries.map((e) => thumb(e.row, 2)));
    const models = Object.keys(entries[0]?.votes || {});
    const withProbability = entries.some((e) => typeof e.probability === "number");
    const csv = `data:text/csv;charset=utf-8;base64,${btoa(review.csv)}`;
    const button = (step, text) => `<button data-review-step="${step}" style="margin-left:6px">${text}</button>`;
    review_div.text = `<div class="mx-review" data-count="${entries.length}"><b>Label review</b>: the ` +
      `${entries.length} most likely label errors of the ${esc(review.split)} split, most likely first ` +
      `(given &rarr; suggested label${withProbability ? " and its probability" : ""}; votes of ` +
      `${models.map(esc).join(", ") || "no model"}, red where a vote differs from the given label). ` +
      "Click one to select it on the map; judge its label with wrong, ok or ?." +
      `${button(-1, "previous")}${button(1, "next")} ` +
      `<a class="mx-review-csv" download="label_review_${esc(review.split)}.csv" href="${csv}">download CSV</a> ` +
      `<button data-review-download="1">download verdicts (CSV)</button> <span class="mx-review-count"></span>` +
      `<br>${entries.map((e, k) => reviewCard(e, images[k])).join("")}</div>`;
    requestAnimationFrame(markReview);  // once the panel shows the new cards
  },
  judge: (row, verdict) => {  // give a candidate a verdict; the same one again takes it back
    if (state.verdicts[row] === verdict) delete state.verdicts[row];
    else state.verdicts[row] = verdict;
    review_div.tags = [JSON.stringify(state.verdicts)];
    markReview();
  },
  downloadReview: () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([reviewCsv()], {type: "text/csv"}));
    a.download = `label_review_${review.split}_verdicts.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
  },
  reviewCsv,
  reviewStep: (step) => {  // select the next (1) or previous (-1) candidate of the list
    const entries = review.entries;
    const at = entries.findIndex((e) => e.row === state.focus);
    const k = at < 0 ? (step > 0 ? 0 : entries.length - 1) : Math.min(entries.length - 1, Math.max(0, at + step));
    api.focus(entries[k].row);
    reviewItems().find((item) => Number(item.dataset.row) === entries[k].row)?.scrollIntoView({block: "nearest"});
  },
  selected: () => {
    const sel = source.selected.indices.slice().sort((a, b) => a - b);
    const focus = sel.length === 1 ? sel[0] : -1;
    if (focus !== state.focus) {
      state.focus = focus;
      index.find_one(plot)?.request_paint();
      if (review) markReview();
    }
    if (focus >= 0) api.show(focus);
    else {
      details.text = DETAILS_HINT;
      if (!sel.length) hover_div.text = HOVER_HINT;
    }
    const token = ++state.galleryToken;
    // the counts at once; the thumbnails after the pointer has let go (a drag may still be selecting)
    const counts = meta.counts.map((c) => {
      const m = new Map();
      for (const i of sel) {
        const v = value(c, i);
        m.set(v, (m.get(v) || 0) + 1);
      }
      return `<b>${esc(c)}</b>: ${Array.from(m.entries()).sort()
        .map(([v, k]) => `${esc(v)} <span data-count="${esc(c)}=${esc(v)}">${k}</span>`).join(", ")}`;
    }).join("<br>");
    if (!sel.length) {
      gallery.text = `<div class="mx-selection" data-count="0">${GALLERY_HINT}</div>`;
      return;
    }
    Promise.all(sel.slice(0, meta.gallery).map((i) => thumb(i, 1))).then((thumbs) => {
      if (token !== state.galleryToken) return;  // a newer selection is being shown
      const more = sel.length > meta.gallery ? ` (first ${meta.gallery} shown)` : "";
      gallery.text = `<div class="mx-selection" data-count="${sel.length}">` +
        `<b>${sel.length.toLocaleString("en")} selected</b>${more}<br>${counts}<br>${thumbs.join("")}</div>`;
    });
  },
  csv: () => {
    const sel = source.selected.indices.slice().sort((a, b) => a - b);
    return `${meta.ids.join(",")}\n${sel.map((i) => meta.ids.map((c) => value(c, i)).join(",")).join("\n")}\n`;
  },
  download: () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([api.csv()], {type: "text/csv"}));
    a.download = "selection.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
  },
  find: (inputs) => {
    const want = inputs.map((w) => String(w.value).trim());
    for (let i = 0; i < n; i++) {
      if (meta.ids.every((c, k) => value(c, i) === want[k])) {
        api.focus(i);
        return;
      }
    }
    details.text = `<div class="mx-detail" data-row="-1">no digit ${esc(want.join(" #"))}</div>`;
  },
  refilter: (widgets) => {
    const xs = source.data.x;
    const ys = source.data.y;
    const keep = Array.from(xs, (x, i) => Number.isFinite(x) && Number.isFinite(ys[i]));
    for (const w of widgets) {
      const c = w.tags[0];
      const s = specs[c];
      const col = cols[c];
      let test = null;
      if (s.kind === "bool") {
        if (w.active.length) test = (v) => v === 1;
      } else if (w.value?.length) {
        const raw = typeof w.value === "string" ? w.value.split(",") : w.value;
        const wanted = new Set(raw.map((v) => v.trim()).filter((v) => v));
        if (wanted.size) test = s.names ? (v) => wanted.has(s.names[v]) : (v) => wanted.has(String(v));
      }
      if (test) for (let i = 0; i < n; i++) if (keep[i] && !test(col[i])) keep[i] = false;
    }
    view.filter.booleans = keep;
    source.selected.indices = source.selected.indices.filter((i) => keep[i]);
  },
  recolour: (name) => {
    state.colour = name;
    recolourPoints(name);
    const categorical = Boolean(specs[name].palette);
    legend.text = legendHtml(name);
    bar.visible = !categorical;
    if (!categorical) {
      bar.color_mapper.low = specs[name].low;
      bar.color_mapper.high = Math.max(specs[name].high, specs[name].low + 1e-9);
      bar.title = name;
    }
    index.find_one(plot)?.request_paint();
  },
};
source._mx = decodeColumns().then(() => {
  recolourPoints(state.colour);
  return api;
});
return source._mx.then((api) => api.install());
