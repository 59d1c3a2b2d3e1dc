/* vegcube view: a Leaflet map of a run's outputs, a time slider over its periods, region
   outlines and uPlot charts of region and pixel series. Everything is served by `vegcube view`
   (libraries vendored from npm in static/vendor/): no request leaves this machine unless an
   online base layer was asked for (--basemap).
   Test hooks: body[data-ready], body[data-tiles] (URL of the last fully loaded layer),
   #region-chart[data-region], #pixel-chart[data-pixel]; window.vegcubeView. */
(function () {
  "use strict";
  var state = { run: null, layer: null, period: 0, tiles: null, map: null, charts: {} };
  var $ = function (id) { return document.getElementById(id); };

  function message(text) { $("message").textContent = text || ""; }

  function getJSON(url) {
    return fetch(url).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body.message || r.statusText); }
        return body;
      });
    });
  }

  function layerInfo(name) {
    return state.run.layers.find(function (l) { return l.name === name; });
  }

  function tileUrl() {
    var p = state.run.periods[state.period];
    return "tiles/" + encodeURIComponent(state.layer) + "/" + p.time + "/{z}/{x}/{y}.png";
  }

  function showPeriod() {
    var p = state.run.periods[state.period];
    var info = layerInfo(state.layer);
    var text = p.time + " – " + p.end;
    $("period").innerHTML = "";
    $("period").appendChild(document.createTextNode(text + " "));
    if (p.provisional) {
      var s = document.createElement("span");
      s.className = "provisional";
      s.textContent = "provisional";
      $("period").appendChild(s);
    }
    var missing = info && info.dates && info.dates.indexOf(p.time) < 0;
    message(missing ? "no " + state.layer + " map for " + p.time : "");
  }

  function update() {
    showPeriod();
    Object.keys(state.charts).forEach(function (k) { state.charts[k].redraw(false); });
    var url = tileUrl();
    document.body.dataset.tiles = "";
    if (state.tiles) {
      state.tiles.setUrl(url);
    } else {
      var b = state.run.bounds;  /* no request for tiles outside the run's area */
      state.tiles = L.tileLayer(url, { maxZoom: 22, opacity: 1, tileSize: 256,
                                       bounds: [[b[1], b[0]], [b[3], b[2]]] }).addTo(state.map);
      state.tiles.on("load", function () {
        document.body.dataset.tiles = state.tiles._url;
        document.body.dataset.ready = "1";
      });
    }
    drawLegend();
  }

  function drawLegend() {
    var lg = layerInfo(state.layer).legend, box = $("legend");
    box.innerHTML = "";
    var h = document.createElement("h3");
    h.textContent = state.layer + ": " + lg.title;
    box.appendChild(h);
    var entries = lg.type === "classes" ? lg.entries : [];
    if (lg.type === "continuous") {
      var bar = document.createElement("div");
      bar.className = "bar";
      bar.style.background = "linear-gradient(to right, " + lg.stops.join(", ") + ")";
      box.appendChild(bar);
      var ticks = document.createElement("div");
      ticks.className = "ticks";
      [lg.min, (lg.min + lg.max) / 2, lg.max].forEach(function (v) {
        var t = document.createElement("span");
        t.textContent = String(+v.toFixed(3));
        ticks.appendChild(t);
      });
      box.appendChild(ticks);
      entries = [lg.nodata];
    }
    entries.forEach(function (e) {
      var row = document.createElement("div");
      row.className = "entry";
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = e.colour;
      row.appendChild(sw);
      row.appendChild(document.createTextNode(e.label));
      box.appendChild(row);
    });
  }

  function setupControls() {
    var select = $("layer");
    state.run.layers.forEach(function (l) {
      var o = document.createElement("option");
      o.value = l.name;
      o.textContent = l.name + (l.cog ? "" : " (zarr)");
      select.appendChild(o);
    });
    select.value = state.layer;
    select.addEventListener("change", function () { state.layer = select.value; update(); });
    var n = state.run.periods.length, slider = $("slider"), timer = null;
    slider.max = String(n - 1);
    slider.value = String(state.period);
    slider.addEventListener("input", function () {
      state.period = +slider.value;
      showPeriod();
      clearTimeout(timer);
      timer = setTimeout(update, 80);
    });
    var ticks = $("ticks");
    state.run.periods.forEach(function (p, i) {
      if (!p.provisional) { return; }
      var t = document.createElement("span");
      t.style.left = (n > 1 ? (100 * i) / (n - 1) : 0) + "%";
      t.title = p.time + " provisional";
      ticks.appendChild(t);
    });
  }

  /* ---------------------------------------------------------------- charts */

  /* the index a layer belongs to (ndvi_vci → ndvi): the longest one it starts with */
  function indexOf(layer) {
    var best = null;
    state.run.indices.forEach(function (i) {
      var match = layer === i || layer.indexOf(i + "_") === 0;
      if (match && (best === null || i.length > best.length)) { best = i; }
    });
    return best || state.run.indices[0] || layer;
  }

  function seconds(days) { return days.map(function (d) { return Date.parse(d) / 1000; }); }

  function provisionalPlugin(flags) {
    return { hooks: { drawClear: function (u) {
      var ctx = u.ctx, xs = u.data[0];
      ctx.save();
      ctx.fillStyle = "rgba(217,122,0,0.18)";
      for (var i = 0; i < flags.length; i++) {
        if (!flags[i]) { continue; }
        var next = i + 1 < xs.length ? xs[i + 1] : xs[i] + 864000;
        var x0 = u.valToPos(xs[i], "x", true), x1 = u.valToPos(next, "x", true);
        ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
      }
      var now = Date.parse(state.run.periods[state.period].time) / 1000;  /* the map's period */
      if (now >= u.scales.x.min && now <= u.scales.x.max) {
        var xn = u.valToPos(now, "x", true);
        ctx.fillStyle = "rgba(30,60,160,0.7)";
        ctx.fillRect(xn - 1, u.bbox.top, 2, u.bbox.height);
      }
      ctx.restore();
    } } };
  }

  function chart(el, title, data, series, flags) {
    if (state.charts[el.id]) { state.charts[el.id].destroy(); }
    el.innerHTML = "";
    var opts = {
      title: title, width: 430, height: 230,
      plugins: [provisionalPlugin(flags)],
      scales: { x: { time: true } },
      series: [{}].concat(series),
      bands: [{ series: [series.length - 1, series.length], fill: "rgba(60,140,60,0.18)" }],
      legend: { show: true },
    };
    state.charts[el.id] = new uPlot(opts, data, el);
    return state.charts[el.id];
  }

  var envelope = [
    { label: "reference mean", stroke: "#2e6b2e", dash: [5, 4], width: 1 },
    { label: "reference max", stroke: "#8fbf8f", width: 1 },
    { label: "reference min", stroke: "#8fbf8f", width: 1 },
  ];

  function showRegion(id) {
    var index = indexOf(state.layer);
    $("region-name").textContent = id;
    getJSON("api/series/region?region=" + encodeURIComponent(id) + "&index=" + index)
      .then(function (s) {
        var el = $("region-chart");
        chart(el, index + " in " + id + " (provisional shaded, map's period in blue)",
          [seconds(s.time), s.value, s.ref_mean, s.ref_max, s.ref_min],
          [{ label: index + " (region mean)", stroke: "#1b1b1b", width: 1.5, spanGaps: false }]
            .concat(envelope), s.provisional);
        el.dataset.region = id;
      })
      .catch(function (e) { message(e.message); });
  }

  function showPixel(latlng) {
    var index = indexOf(state.layer);
    var q = "lon=" + latlng.lng.toFixed(6) + "&lat=" + latlng.lat.toFixed(6) + "&index=" + index;
    getJSON("api/series/pixel?" + q)
      .then(function (s) {
        var el = $("pixel-chart"), where = s.lat.toFixed(5) + ", " + s.lon.toFixed(5);
        $("pixel-name").textContent = where;
        var none = s.time.map(function () { return null; });
        chart(el, index + " at " + where,
          [seconds(s.time), s.composite || none, s.filled || none, s.ref_mean || none,
           s.ref_max || none, s.ref_min || none],
          [{ label: "composite", stroke: "#1f4e9e", width: 0,
             points: { show: true, size: 4, fill: "#1f4e9e" } },
           { label: "filled", stroke: "#1b1b1b", width: 1.2 }].concat(envelope),
          s.provisional);
        el.dataset.pixel = s.row + "," + s.col;
      })
      .catch(function (e) { message(e.message); });
  }

  /* ---------------------------------------------------------------- start */

  function start(run) {
    state.run = run;
    document.title = "vegcube view: " + run.name;
    $("title").textContent = run.name;
    state.layer = run.default_layer;
    state.period = run.periods.length - 1;
    var map = L.map("map", { zoomSnap: 1, fadeAnimation: false, attributionControl: !!run.basemap });
    state.map = map;
    if (run.basemap) {
      L.tileLayer(run.basemap, { attribution: run.basemap_attribution, maxZoom: 22 }).addTo(map);
    }
    var b = run.bounds;
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    setupControls();
    update();
    map.on("click", function (e) { showPixel(e.latlng); });
    if (run.regions) {
      getJSON("api/regions").then(function (fc) {
        L.geoJSON(fc, {
          style: { color: "#222", weight: 1.5, fill: true, fillOpacity: 0 },
          onEachFeature: function (f, lyr) {
            lyr.bindTooltip(String(f.id), { sticky: true });
            lyr.on("click", function () { showRegion(String(f.id)); });
          },
        }).addTo(map);
        document.body.dataset.regions = String(fc.features.length);
      }).catch(function (e) { message(e.message); });
    }
  }

  window.vegcubeView = state;
  getJSON("api/run").then(start).catch(function (e) { message("cannot load the run: " + e.message); });
})();
