// Rasd alert desk: live alerts over Server-Sent Events. Article text is untrusted: every string reaches the
// page through textContent / attributes set by property, never through innerHTML (docs/web.md, "Security").
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 960, H = 480;
  const RTL_LANGS = new Set(["ar", "fa", "ur", "he"]);
  const list = document.getElementById("alerts");
  const empty = document.getElementById("empty");
  const statusLine = document.getElementById("status");
  const form = document.getElementById("filters");
  const map = document.getElementById("map");
  const template = document.getElementById("alert-template");
  const markers = document.createElementNS(SVG, "g");
  const shown = new Map(); // alert_id -> card
  let source = null;
  let generation = 0; // bumped by connect(): markers of an older list are not drawn
  let worldReady = null; // resolves once the outline (and the country centres) are loaded
  const countryCentre = new Map(); // lower-case Natural Earth name -> [lon, lat]
  // Gazetteer names that Natural Earth 1:110m spells otherwise.
  const COUNTRY_ALIASES = {
    "united states": "united states of america", "democratic republic of the congo": "dem. rep. congo",
    "state of palestine": "palestine", "gaza strip": "palestine", "west bank": "palestine",
    "palestinian territories": "palestine", "central african republic": "central african rep.",
    "south sudan": "s. sudan", "dominican republic": "dominican rep.", "bosnia and herzegovina": "bosnia and herz.",
    "north macedonia": "macedonia", "czech republic": "czechia", "ivory coast": "côte d'ivoire",
    "republic of the congo": "congo", "western sahara": "w. sahara", "eswatini": "eswatini",
  };

  // ------------------------------------------------------------------ filters <-> URL query

  const FIELDS = ["min_severity", "language", "place", "entity"];

  function queryFromUrl() {
    const params = new URLSearchParams(window.location.search);
    for (const name of FIELDS) {
      const el = form.elements.namedItem(name);
      const value = params.getAll(name).join(", ");
      if (el) el.value = value || (name === "min_severity" ? "low" : "");
    }
    return params;
  }

  function queryFromForm() {
    const params = new URLSearchParams();
    for (const name of FIELDS) {
      const raw = form.elements.namedItem(name).value.trim();
      if (!raw || (name === "min_severity" && raw === "low")) continue;
      const values = name === "min_severity" ? [raw] : raw.split(",").map((v) => v.trim()).filter(Boolean);
      for (const v of values) params.append(name, v);
    }
    return params;
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const params = queryFromForm();
    const qs = params.toString();
    window.history.pushState(null, "", qs ? "?" + qs : window.location.pathname);
    connect(params);
  });
  document.getElementById("clear").addEventListener("click", () => {
    form.reset();
    window.history.pushState(null, "", window.location.pathname);
    connect(new URLSearchParams());
  });
  window.addEventListener("popstate", () => connect(queryFromUrl()));

  // ------------------------------------------------------------------ the stream

  function setStatus(text, down) {
    statusLine.textContent = text;
    statusLine.classList.toggle("down", Boolean(down));
  }

  function connect(params) {
    if (source) source.close();
    shown.clear();
    generation += 1;
    list.replaceChildren();
    markers.replaceChildren();
    empty.hidden = false;
    const qs = params.toString();
    setStatus("connecting…");
    source = new EventSource("/events" + (qs ? "?" + qs : ""));
    source.addEventListener("alert", (ev) => {
      let alert;
      try { alert = JSON.parse(ev.data); } catch (e) { return; }
      addAlert(alert, ev.lastEventId);
    });
    source.addEventListener("ready", () => setStatus(`live — ${shown.size} alert(s)` + (qs ? ` for ${describe(params)}` : "")));
    source.addEventListener("error", () => setStatus("connection lost — reconnecting…", true));
  }

  function describe(params) {
    return Array.from(params.entries()).map(([k, v]) => `${k}=${v}`).join(" ");
  }

  // ------------------------------------------------------------------ cards

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function directionOf(language) {
    return RTL_LANGS.has(String(language || "").toLowerCase()) ? "rtl" : "ltr";
  }

  function when(alert) {
    const t = alert.published_at ? new Date(alert.published_at) : new Date(alert.detected_at * 1000);
    return isNaN(t.getTime()) ? String(alert.published_at || "") : t.toISOString().replace("T", " ").slice(0, 16) + "Z";
  }

  // The terms' spans in ``text``: match offsets index the article, not the snippet or title, so the terms are
  // found by their text (case-insensitively where that keeps lengths), longest first, without overlaps.
  function highlighted(text, terms) {
    const frag = document.createDocumentFragment();
    const lower = text.toLowerCase();
    const folded = lower.length === text.length ? lower : text;
    const spans = [];
    const sorted = Array.from(new Set(terms.filter(Boolean))).sort((a, b) => b.length - a.length);
    for (const term of sorted) {
      const needle = folded === lower ? term.toLowerCase() : term;
      if (needle.length !== term.length) continue;
      let from = 0;
      for (;;) {
        const at = folded.indexOf(needle, from);
        if (at < 0) break;
        const end = at + needle.length;
        if (!spans.some(([s, e]) => at < e && s < end)) spans.push([at, end]);
        from = end;
      }
    }
    spans.sort((a, b) => a[0] - b[0]);
    let pos = 0;
    for (const [s, e] of spans) {
      if (s > pos) frag.append(document.createTextNode(text.slice(pos, s)));
      frag.append(el("mark", text.slice(s, e)));
      pos = e;
    }
    if (pos < text.length) frag.append(document.createTextNode(text.slice(pos)));
    return frag;
  }

  function safeHttpUrl(url) {
    try {
      const u = new URL(String(url));
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function addAlert(alert, seq) {
    if (!alert || !alert.alert_id || shown.has(alert.alert_id)) return;
    const li = template.content.firstElementChild.cloneNode(true);
    const sev = ["low", "medium", "high"].includes(alert.severity) ? alert.severity : "low";
    li.classList.add("sev-" + sev);
    li.dataset.alertId = alert.alert_id;
    li.dataset.language = String(alert.language || "");
    li.lang = String(alert.language || "");
    li.dir = directionOf(alert.language);
    const terms = (alert.matches || []).map((m) => m.term);
    li.querySelector(".sev").textContent = sev;
    li.querySelector(".title").append(highlighted(String(alert.title || ""), terms));
    const meta = li.querySelector(".meta");
    const bits = [when(alert), "score " + Number(alert.score).toFixed(2)];
    if (alert.casualties) bits.push(`${alert.casualties} killed`);
    if (alert.source) bits.push(String(alert.source));
    const places = (alert.entities || []).filter((e) => e.type === "LOC").map((e) => e.name);
    if (places.length) bits.push(places.slice(0, 4).join(", "));
    if (alert.supersedes) meta.append(el("span", "update", "tag"));
    meta.append(el("bdi", bits.join(" · ")));
    li.querySelector(".snippet").append(highlighted(String(alert.snippet || ""), terms));

    const matches = li.querySelector(".matches");
    for (const m of alert.matches || []) {
      const item = el("li");
      item.append(el("mark", m.term), document.createTextNode(` — ${m.category}, weight ${m.weight}`));
      matches.append(item);
    }
    const entities = li.querySelector(".entities");
    for (const e of alert.entities || []) {
      const item = el("li");
      item.append(el("span", e.type, "tag"), el("bdi", e.name), document.createTextNode(" "));
      const id = String(e.canonical || "");
      if (/^Q[0-9]+$/.test(id)) {
        const a = el("a", id);
        a.href = "https://www.wikidata.org/wiki/" + id;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        item.append(a);
      } else {
        item.append(el("code", id));
      }
      if (e.mentions && e.mentions.length) item.append(document.createTextNode(" — "), el("bdi", e.mentions.join(", ")));
      if (typeof e.lat === "number" && typeof e.lon === "number") {
        item.append(document.createTextNode(` (${e.lat.toFixed(2)}, ${e.lon.toFixed(2)})`));
      }
      entities.append(item);
    }
    const src = li.querySelector(".source");
    const href = safeHttpUrl(alert.url);
    if (href) {
      const a = el("a", "Source");
      if (alert.source) a.append(document.createTextNode(": "), el("bdi", alert.source));
      a.href = href;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      src.append(a);
    } else if (alert.source) {
      src.append(document.createTextNode("Source: "), el("bdi", alert.source));
    }
    src.append(el("span", `  alert ${alert.alert_id} · article ${alert.article_id}`, "meta"));
    const details = li.querySelector("details");
    details.addEventListener("toggle", () => { if (details.open) loadStory(alert, li.querySelector(".story")); });

    shown.set(alert.alert_id, li);
    empty.hidden = true;
    li.classList.add("fresh");
    list.prepend(li); // newest first (the backlog arrives oldest first)
    const gen = generation;
    worldReady.then(() => { if (gen === generation) addMarkers(alert, sev); });
    if (statusLine.textContent.startsWith("live")) setStatus(statusLine.textContent.replace(/\d+ alert\(s\)/, `${shown.size} alert(s)`));
  }

  async function loadStory(alert, target) {
    if (!alert.story_id) {
      target.replaceChildren(el("li", "no story id: a single report"));
      return;
    }
    let data;
    try {
      const resp = await fetch("/api/alerts?story=" + encodeURIComponent(alert.story_id), { credentials: "same-origin" });
      data = await resp.json();
    } catch (e) {
      target.replaceChildren(el("li", "story unavailable"));
      return;
    }
    const items = (data.alerts || []).slice().reverse(); // oldest first: a timeline
    target.replaceChildren();
    for (const a of items) {
      const item = el("li", null, a.alert_id === alert.alert_id ? "this" : "");
      item.dir = "auto";
      item.append(el("span", a.supersedes ? "update" : "new", "tag"), el("span", `${when(a)} ${a.severity} `),
                  el("bdi", a.title));
      target.append(item);
    }
    target.parentElement.querySelector("h3:nth-of-type(3)").textContent = `Story ${alert.story_id} (${items.length})`;
  }

  // ------------------------------------------------------------------ map (world-atlas, equirectangular)

  const px = (lon, lat) => [((lon + 180) / 360) * W, ((90 - lat) / 180) * H];

  // A ring that crosses the antimeridian (Russia, Fiji, Antarctica's edge) is drawn in pieces, not across the map.
  function ringPath(ring) {
    let broken = false;
    const d = ring.map(([lon, lat], i) => {
      const jump = i > 0 && Math.abs(lon - ring[i - 1][0]) > 180;
      broken = broken || jump;
      return (i === 0 || jump ? "M" : "L") + px(lon, lat).map((v) => v.toFixed(1)).join(",");
    }).join("");
    return broken ? d : d + "Z";
  }

  async function drawWorld() {
    const land = document.createElementNS(SVG, "g");
    map.append(land, markers);
    if (!window.topojson) return;
    try {
      const topo = await (await fetch("/static/vendor/countries-110m.json")).json();
      const fc = window.topojson.feature(topo, topo.objects.countries);
      for (const f of fc.features) {
        const g = f.geometry;
        if (!g) continue;
        const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
        const path = document.createElementNS(SVG, "path");
        path.setAttribute("d", polys.map((p) => p.map(ringPath).join("")).join(""));
        path.setAttribute("class", "land");
        land.append(path);
        const name = f.properties && f.properties.name;
        if (name) countryCentre.set(String(name).toLowerCase(), centreOf(polys));
      }
    } catch (e) {
      /* the list works without the outline */
    }
  }

  // A country's marker goes at the middle of the bounding box of its largest polygon (by bounding-box area).
  function centreOf(polys) {
    let best = null, bestArea = -1;
    for (const poly of polys) {
      const ring = poly[0] || [];
      // A ring across the antimeridian (Russia's) is measured with western longitudes shifted by 360°.
      const wraps = ring.some(([lon], i) => i > 0 && Math.abs(lon - ring[i - 1][0]) > 180);
      let x0 = 540, x1 = -540, y0 = 90, y1 = -90;
      for (const [lon0, lat] of ring) {
        const lon = wraps && lon0 < 0 ? lon0 + 360 : lon0;
        x0 = Math.min(x0, lon); x1 = Math.max(x1, lon); y0 = Math.min(y0, lat); y1 = Math.max(y1, lat);
      }
      const area = (x1 - x0) * (y1 - y0);
      const mid = (x0 + x1) / 2;
      if (ring.length && area > bestArea) { bestArea = area; best = [mid > 180 ? mid - 360 : mid, (y0 + y1) / 2]; }
    }
    return best;
  }

  // Where an alert entity goes on the map: its own coordinates, else (a country the gazetteer has no coordinates
  // for) the centre of the country of that name in the outline, marked as approximate; else nowhere.
  function whereIs(e) {
    if (typeof e.lat === "number" && typeof e.lon === "number") return { lon: e.lon, lat: e.lat, approx: false };
    const name = String(e.name || "").toLowerCase();
    const centre = countryCentre.get(COUNTRY_ALIASES[name] || name);
    return centre ? { lon: centre[0], lat: centre[1], approx: true } : null;
  }

  function addMarkers(alert, sev) {
    for (const e of alert.entities || []) {
      if (e.type !== "LOC") continue;
      const at = whereIs(e);
      if (!at) continue;
      const [x, y] = px(at.lon, at.lat);
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", x.toFixed(1));
      c.setAttribute("cy", y.toFixed(1));
      c.setAttribute("r", sev === "high" ? "6" : sev === "medium" ? "5" : "4");
      c.setAttribute("class", "marker sev-" + sev + (at.approx ? " approx" : ""));
      c.dataset.alertId = alert.alert_id;
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${e.name}${at.approx ? " (country)" : ""}: ${alert.title}`;
      c.append(title);
      c.addEventListener("click", () => {
        const card = shown.get(alert.alert_id);
        if (!card) return;
        card.querySelector("details").open = true;
        card.scrollIntoView({ behavior: "smooth", block: "center" });
        markers.querySelectorAll(".selected").forEach((m) => m.classList.remove("selected"));
        c.classList.add("selected");
      });
      markers.append(c);
    }
  }

  worldReady = drawWorld();
  connect(queryFromUrl());
})();
