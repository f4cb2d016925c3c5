// The report's only script and its stylesheet, inlined in the page. The script sorts and filters
// the task table and opens a task's details when its link is followed; it reads only data-*
// attributes the template wrote (escaped) and never builds HTML from them. The page's Content
// Security Policy allows exactly this script (by its hash) and nothing else.

export const CLIENT_SCRIPT = `
(function () {
  "use strict";
  var table = document.getElementById("task-table");
  var body = table.tBodies[0];
  var familyFilter = document.getElementById("filter-family");
  var outcomeFilter = document.getElementById("filter-outcome");
  var textFilter = document.getElementById("filter-text");
  var shown = document.getElementById("shown-count");
  function applyFilters() {
    var family = familyFilter.value, outcome = outcomeFilter.value, text = textFilter.value.trim().toLowerCase();
    var count = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var visible = (family === "" || row.dataset.family === family) &&
        (outcome === "" || row.dataset.outcome === outcome) &&
        (text === "" || row.dataset.search.indexOf(text) !== -1);
      row.hidden = !visible;
      if (visible) count += 1;
    });
    shown.textContent = String(count);
  }
  [familyFilter, outcomeFilter].forEach(function (element) { element.addEventListener("change", applyFilters); });
  textFilter.addEventListener("input", applyFilters);
  var direction = {};
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
    if (!header.dataset.sort) return;
    header.tabIndex = 0;
    function sort() {
      var ascending = direction[column] = !direction[column];
      var numeric = header.dataset.sort === "number";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (left, right) {
        var a = left.cells[column].dataset.value, b = right.cells[column].dataset.value;
        var order;
        if (numeric) {
          var x = a === "" ? -Infinity : Number(a), y = b === "" ? -Infinity : Number(b);
          order = x - y;
        } else {
          order = a.localeCompare(b, undefined, { numeric: true });
        }
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    }
    header.addEventListener("click", sort);
    header.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
  });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!/^task-[0-9]+$/.test(id)) return;
    var target = document.getElementById(id);
    if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  applyFilters();
})();
`;

export const STYLESHEET = `
:root { --passed: #1a7f37; --failed: #cf222e; --error: #bc4c00; --not-judged: #6e7781; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "DejaVu Sans", sans-serif; margin: 0; color: #1f2328; background: #fff; }
header.page { padding: 16px 24px; border-bottom: 1px solid var(--line); background: #f6f8fa; }
header.page h1 { margin: 0 0 4px; font-size: 20px; }
main { padding: 8px 24px 48px; max-width: 1400px; }
h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.muted, .url { color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
th[data-sort] { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0; }
#manifest { grid-template-columns: max-content minmax(0, 1fr) max-content minmax(0, 1fr); word-break: break-all; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
.badge.passed { background: var(--passed); } .badge.failed { background: var(--failed); }
.badge.error { background: var(--error); } .badge.not-judged { background: var(--not-judged); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 190px; }
.card .family { font-weight: 600; text-transform: uppercase; font-size: 12px; color: var(--muted); }
.card .metric { font-size: 13px; } .card .metric b { font-size: 18px; }
.filters { display: flex; gap: 12px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; overflow: auto; max-height: 420px; white-space: pre-wrap; word-break: break-word; margin: 4px 0; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
details.task { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 0 12px; }
details.task[open] { padding-bottom: 12px; }
details.task > summary { cursor: pointer; padding: 8px 0; font-weight: 600; }
details.step { border-left: 3px solid var(--line); margin: 6px 0; padding: 2px 10px; }
details.step.ok { border-left-color: var(--passed); } details.step.raised { border-left-color: var(--failed); }
details.step > summary { cursor: pointer; }
.thought p { margin: 4px 0; }
.reason { color: var(--failed); font-weight: normal; }
.charts { display: flex; flex-wrap: wrap; gap: 16px 28px; margin: 8px 0; }
svg.chart { font: 11px system-ui, "DejaVu Sans", sans-serif; }
svg.chart .chart-title { font-weight: 600; font-size: 12px; }
svg.chart .bar.passed { fill: var(--passed); } svg.chart .bar.failed { fill: var(--failed); }
svg.chart .bar.error { fill: var(--error); } svg.chart .bar.not-judged { fill: var(--not-judged); }
svg.chart .chart-value { fill: var(--muted); }
.d2h-wrapper { margin: 6px 0; }
`;
