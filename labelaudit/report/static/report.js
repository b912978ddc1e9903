/* labelaudit report: sort, filter, paginate and download the flagged rows embedded as JSON in the page.
   Values only ever reach the page through textContent (never innerHTML), so data cannot become markup. */
(function () {
  "use strict";
  var source = document.getElementById("flagged-data");
  var table = document.getElementById("flagged-table");
  if (!source || !table) { return; }
  var data = JSON.parse(source.textContent);
  var columns = data.columns;
  var rows = data.rows;
  var preview = data.preview || 120;
  // One format per column, decided from the whole column by the report (model.ColumnFormat): whole numbers
  // as integers, floats with the column's number of decimals, text as is.
  var formats = data.formats || columns.map(function () { return { kind: "text", digits: 0 }; });
  var numeric = formats.map(function (f) { return f.kind !== "text"; });
  function show(v, c) {
    var f = formats[c];
    if (typeof v !== "number" || f.kind === "text") { return String(v); }
    return f.kind === "int" && Number.isInteger(v) ? String(v) : v.toFixed(f.digits);
  }
  var text = function (v) { return v === null || v === undefined ? "" : String(v); };
  // One lower-cased string per row, built once, so filtering 10k rows is a plain substring scan.
  var haystack = rows.map(function (r) { return r.map(text).join("\u0001").toLowerCase(); });
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  var state = { col: 0, dir: 1, query: "", given: "", suggested: "", page: 0, size: 100 };
  var order = rows.map(function (_, i) { return i; });
  var visible = order.slice();

  var $ = function (id) { return document.getElementById(id); };
  var tbody = table.tBodies[0];
  var status = $("flagged-status");
  var pageLabel = $("flagged-page");
  var pager = $("flagged-pager");
  var controls = $("flagged-controls");

  function compare(a, b) {
    var c = state.col, x = rows[a][c], y = rows[b][c];
    var xn = x === null || x === undefined || x === "", yn = y === null || y === undefined || y === "";
    if (xn || yn) { return xn === yn ? a - b : (xn ? 1 : -1); }  // empty values last in both directions
    var r = numeric[c] ? x - y : collator.compare(String(x), String(y));
    return r === 0 ? a - b : r * state.dir;
  }

  function refilter() {
    var q = state.query.toLowerCase();
    visible = order.filter(function (i) {
      var r = rows[i];
      if (state.given && r[2] !== state.given) { return false; }
      if (state.suggested && r[3] !== state.suggested) { return false; }
      return !q || haystack[i].indexOf(q) !== -1;
    });
  }

  function cell(v, c) {
    var td = document.createElement("td");
    if (v === null || v === undefined) {
      var span = document.createElement("span");
      span.className = "null";
      span.textContent = "–";
      td.appendChild(span);
    } else if (typeof v === "string" && v.length > preview) {
      var details = document.createElement("details");
      details.className = "long";
      var summary = document.createElement("summary");
      summary.textContent = v.slice(0, preview) + "…";
      var full = document.createElement("div");
      full.className = "full";
      full.textContent = v;
      details.appendChild(summary);
      details.appendChild(full);
      td.appendChild(details);
    } else {
      td.textContent = show(v, c);
    }
    if (numeric[c]) { td.className = "num"; }
    return td;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(visible.length / state.size));
    state.page = Math.min(Math.max(state.page, 0), pages - 1);
    var start = state.page * state.size;
    var end = Math.min(start + state.size, visible.length);
    var fragment = document.createDocumentFragment();
    for (var i = start; i < end; i++) {
      var r = rows[visible[i]];
      var tr = document.createElement("tr");
      for (var c = 0; c < r.length; c++) { tr.appendChild(cell(r[c], c)); }
      fragment.appendChild(tr);
    }
    tbody.replaceChildren(fragment);
    var fmt = function (n) { return n.toLocaleString("en"); };
    status.textContent = visible.length === 0
      ? "No flagged row matches the filter (" + fmt(rows.length) + " rows in all)."
      : "Showing rows " + fmt(start + 1) + "–" + fmt(end) + " of " + fmt(visible.length) +
        (visible.length < rows.length ? " matching (" + fmt(rows.length) + " in all)." : ".");
    pageLabel.textContent = "Page " + fmt(state.page + 1) + " of " + fmt(pages);
    pager.querySelector("[data-page=first]").disabled = state.page === 0;
    pager.querySelector("[data-page=prev]").disabled = state.page === 0;
    pager.querySelector("[data-page=next]").disabled = state.page >= pages - 1;
    pager.querySelector("[data-page=last]").disabled = state.page >= pages - 1;
    $("download-filtered").textContent = "Download the " + fmt(visible.length) + " matching rows (CSV)";
    $("download-filtered").disabled = visible.length === 0;
  }

  function sortBy(c) {
    if (state.col === c) { state.dir = -state.dir; } else { state.col = c; state.dir = 1; }
    order.sort(compare);
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) {
      heads[i].setAttribute("aria-sort", i === c ? (state.dir === 1 ? "ascending" : "descending") : "none");
    }
    refilter();
    state.page = 0;
    render();
  }

  // Header cells become sort buttons (their text stays the escaped column name).
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, c) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    button.title = "Sort by " + th.textContent;
    button.addEventListener("click", function () { sortBy(c); });
    th.replaceChildren(button);
    th.setAttribute("aria-sort", c === 0 ? "ascending" : "none");
    if (numeric[c]) { th.classList.add("num"); }
  });

  var timer = null;
  $("flagged-filter").addEventListener("input", function (event) {
    clearTimeout(timer);
    timer = setTimeout(function () {
      state.query = event.target.value;
      state.page = 0;
      refilter();
      render();
    }, 120);
  });
  $("flagged-given").addEventListener("change", function (event) {
    state.given = event.target.value; state.page = 0; refilter(); render();
  });
  $("flagged-suggested").addEventListener("change", function (event) {
    state.suggested = event.target.value; state.page = 0; refilter(); render();
  });
  $("flagged-page-size").addEventListener("change", function (event) {
    state.size = parseInt(event.target.value, 10) || 100; state.page = 0; render();
  });
  pager.addEventListener("click", function (event) {
    var target = event.target.closest("button[data-page]");
    if (!target) { return; }
    var move = target.getAttribute("data-page");
    var pages = Math.max(1, Math.ceil(visible.length / state.size));
    state.page = move === "first" ? 0 : move === "prev" ? state.page - 1 : move === "next" ? state.page + 1 : pages - 1;
    render();
    table.scrollIntoView({ block: "start" });
  });

  // CSV (RFC 4180, UTF-8 with BOM for spreadsheets). Text that a spreadsheet would run as a formula
  // (starting with = + - @ or a control character, and not a plain number) is prefixed with an apostrophe.
  var plainNumber = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  function csvValue(v) {
    if (v === null || v === undefined) { return ""; }
    var s = String(v);
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(s) && !plainNumber.test(s)) { s = "'" + s; }
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function download(indices, suffix) {
    var lines = [columns.map(csvValue).join(",")];
    for (var i = 0; i < indices.length; i++) { lines.push(rows[indices[i]].map(csvValue).join(",")); }
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = data.filename.replace(/\.csv$/, suffix + ".csv");
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }
  $("download-all").addEventListener("click", function () {
    download(rows.map(function (_, i) { return i; }), "");
  });
  $("download-filtered").addEventListener("click", function () { download(visible, "-filtered"); });

  controls.hidden = false;
  pager.hidden = false;
  render();
})();
