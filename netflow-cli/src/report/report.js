(function () {
  "use strict";
  var table = document.getElementById("denied");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var selected = null;

  function apply() {
    var needle = filter.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var keep = (!selected || selected.indexOf(row.dataset.row) >= 0) &&
        (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0);
      row.classList.toggle("hidden", !keep);
      if (keep) { count += 1; }
    });
    shown.textContent = count === rows.length ? "" : count + " of " + rows.length + " rows";
  }

  function sortBy(index, th) {
    var descending = !th.classList.contains("sorted-desc");
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) {
      c.classList.remove("sorted-asc", "sorted-desc");
    });
    th.classList.add(descending ? "sorted-desc" : "sorted-asc");
    var key = function (row) {
      var cell = row.cells[index];
      var value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
      return th.classList.contains("num") ? Number(value) : value.toLowerCase();
    };
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    th.addEventListener("click", function () { sortBy(i, th); });
  });
  filter.addEventListener("input", apply);
  document.getElementById("clear").addEventListener("click", function () {
    selected = null;
    filter.value = "";
    document.querySelectorAll(".edge.selected").forEach(function (e) { e.classList.remove("selected"); });
    apply();
  });
  document.querySelectorAll("#graph-svg .edge").forEach(function (edge) {
    edge.addEventListener("click", function () {
      document.querySelectorAll(".edge.selected").forEach(function (e) { e.classList.remove("selected"); });
      edge.classList.add("selected");
      selected = edge.dataset.rows.split(" ");
      apply();
      table.scrollIntoView({ behavior: "smooth" });
    });
  });

  // What actually rendered (non-empty boxes), for people debugging the page and for tests.
  // A straight edge is a line: one of its sides may be zero.
  function drawn(selector, line) {
    return Array.prototype.filter.call(document.querySelectorAll(selector), function (el) {
      var box = el.getBoundingClientRect();
      return line ? box.width > 0 || box.height > 0 : box.width > 0 && box.height > 0;
    }).length;
  }
  document.body.dataset.rendered = [
    "nodes=" + drawn("#graph-svg .node rect"),
    "edges=" + drawn("#graph-svg .edge path", true),
    "rows=" + drawn("#denied tbody tr"),
    "bars=" + drawn("#timeline-svg .bar")
  ].join(" ");
  apply();
})();
