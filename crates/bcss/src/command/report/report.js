(function () {
  "use strict";
  // Button groups: the pressed button's value goes to a data- attribute of <body>, which the
  // stylesheet reads to show one chart or one overlay view.
  function group(name, attr) {
    var buttons = document.querySelectorAll('[data-group="' + name + '"] button');
    Array.prototype.forEach.call(buttons, function (b) {
      b.addEventListener("click", function () {
        document.body.setAttribute(attr, b.value);
        Array.prototype.forEach.call(buttons, function (o) {
          o.setAttribute("aria-pressed", o === b ? "true" : "false");
        });
      });
    });
  }
  group("overlay", "data-overlay");
  group("chart", "data-chart");
  // Sortable tables: a click on a header sorts by that column (data-v of its cells), again
  // reverses; numbers compare as numbers.
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      if (!th.dataset.type) return;
      th.addEventListener("click", function () {
        var num = th.dataset.type === "num";
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(heads, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v;
          if (num) { x = parseFloat(x); y = parseFloat(y); return dir * ((x > y) - (x < y)); }
          return dir * x.localeCompare(y);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
