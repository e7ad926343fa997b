// The catalog site's only script: filter box and group toggles. No network, works from file://.
(function () {
  "use strict";
  var box = document.getElementById("filter");
  if (!box) { return; }
  var nodes = Array.prototype.slice.call(document.querySelectorAll("svg .node"));
  var edges = Array.prototype.slice.call(document.querySelectorAll("svg .edge"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-key]"));
  var toggles = Array.prototype.slice.call(document.querySelectorAll("input[data-group-toggle]"));
  var count = document.getElementById("filter-count");

  function hiddenGroups() {
    var out = {};
    toggles.forEach(function (t) { if (!t.checked) { out[t.getAttribute("data-group-toggle")] = true; } });
    return out;
  }

  function apply() {
    var q = box.value.trim().toLowerCase();
    var off = hiddenGroups();
    var visible = {};
    var hits = 0;
    nodes.forEach(function (n) {
      var group = n.getAttribute("data-group");
      var shown = !off[group];
      var hit = shown && (q === "" || n.getAttribute("data-search").indexOf(q) !== -1);
      n.classList.toggle("hidden", !shown);
      n.classList.toggle("dim", shown && !hit);
      n.classList.toggle("hit", hit && q !== "");
      if (shown) { visible[n.getAttribute("data-key")] = true; }
      if (hit) { hits += 1; }
    });
    edges.forEach(function (e) {
      e.classList.toggle("hidden", !(visible[e.getAttribute("data-from")] && visible[e.getAttribute("data-to")]));
      e.classList.toggle("dim", q !== "");
    });
    document.querySelectorAll("svg .lane").forEach(function (l) {
      l.classList.toggle("hidden", !!off[l.getAttribute("data-group")]);
    });
    rows.forEach(function (r) {
      var match = q === "" || r.getAttribute("data-search").indexOf(q) !== -1;
      r.classList.toggle("hidden", !match || !!off[r.getAttribute("data-group")]);
    });
    document.querySelectorAll("details[data-group]").forEach(function (d) {
      d.classList.toggle("hidden", !!off[d.getAttribute("data-group")]);
    });
    if (count) { count.textContent = q === "" ? "" : hits + " match" + (hits === 1 ? "" : "es"); }
  }

  // zoom: the SVG keeps its viewBox, so scaling its size scales the drawing
  var svg = document.getElementById("lineage");
  var natural = svg ? [svg.width.baseVal.value, svg.height.baseVal.value] : [0, 0];
  var scale = 1;
  function zoom(to) {
    scale = Math.max(0.1, Math.min(2, to));
    svg.setAttribute("width", Math.round(natural[0] * scale));
    svg.setAttribute("height", Math.round(natural[1] * scale));
    var label = document.getElementById("zoom-level");
    if (label) { label.textContent = Math.round(scale * 100) + "%"; }
  }
  document.querySelectorAll("button[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var how = b.getAttribute("data-zoom");
      if (how === "fit") {
        var frame = svg.parentNode;
        zoom(Math.min(frame.clientWidth / natural[0], frame.clientHeight / natural[1], 1));
      } else { zoom(scale * (how === "in" ? 1.25 : 0.8)); }
    });
  });

  box.addEventListener("input", function () {
    apply();
    var first = document.querySelector("svg .node.hit");
    if (first && first.scrollIntoView) { first.scrollIntoView({block: "center", inline: "center"}); }
  });
  toggles.forEach(function (t) { t.addEventListener("change", apply); });
  var fromHash = decodeURIComponent((location.hash || "").replace(/^#q=/, ""));
  if (location.hash.indexOf("#q=") === 0) { box.value = fromHash; }
  apply();
}());
