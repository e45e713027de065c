// The map panel on Leaflet (vendored, loaded before the modules as window.L): basemap tiles if
// configured, fences with their names, one dot per person. Positions and fences arrive in WGS-84
// and are shifted onto the tiles' datum (GCJ-02 for most Chinese sources) when drawn.
import { CONFIG, LABELS, formatTime, label, loadConfig } from "./config.js";
import { fromWgs84, toWgs84 } from "./geo.js";
import { addStrings, onLanguageChange, t } from "./i18n.js";

const L = window.L;
const START = { center: [22.55, 114.05], zoom: 11 };

addStrings({ "map.outside": ["围栏外", "Outside"] });

export class MapPanel {
  /**
   * persons: Map person_id → {lat, lon, status, supervision_level, case_number, ts};
   * onPick(personId) when a dot is clicked; onDrawn({shown, outside}) after each frame.
   */
  constructor(container, { persons, onPick, onDrawn }) {
    Object.assign(this, { container, persons, onPick, onDrawn, polygons: [], dots: new Map(),
      selected: null, fitted: false, pending: false, crs: "wgs84", basemap: false, trackPoints: [] });
    this.map = L.map(container, { minZoom: 3, maxZoom: 19 }).setView(START.center, START.zoom);
    this.map.attributionControl.setPrefix("Leaflet"); // its default links out of an offline room
    this.fences = L.featureGroup().addTo(this.map);
    this.people = L.featureGroup().addTo(this.map);
    this.ring = L.circleMarker(START.center, { radius: 15, color: CONFIG.selectedRing, weight: 3,
      fill: false, interactive: false, className: "selected-ring" });
    L.control.scale({ imperial: false, position: "bottomright" }).addTo(this.map);
    cursorReadout(this.map, (latlng) => toWgs84([latlng.lng, latlng.lat], this.crs));
    // the console starts hidden (login first): Leaflet must re-measure once it is shown
    new ResizeObserver(() => this.map.invalidateSize()).observe(container);
    this.ready = loadConfig().then((config) => this.useBasemap(config));
  }

  reset() {
    this.polygons = [];
    this.fences.clearLayers();
    this.people.clearLayers();
    this.dots.clear();
    this.ring.remove();
    this.hideTrack();
    Object.assign(this, { selected: null, fitted: false });
  }

  /** One per fence: {role: "allowed"|"exclusion", name, parts: [[ring, ...], ...]}, a part
   * per polygon of a MultiPolygon, a ring [[lon, lat], ...] in WGS-84. */
  addPolygons(polygons) {
    this.polygons.push(...polygons);
    for (const polygon of polygons) this.fences.addLayer(this.fenceLayer(polygon));
    this.fences.bringToBack(); // dots drawn before the fences loaded stay clickable on top
  }

  /** Fit the allowed fences (or, with none, the persons) into the panel. */
  fit() {
    this.map.invalidateSize();
    const allowed = this.fences.getLayers().filter((layer) => layer.options.role === "allowed");
    const bounds = L.latLngBounds(allowed.length ? allowed.map((layer) => layer.getBounds())
      : this.located().map((p) => this.toLatLng([p.lon, p.lat])));
    if (bounds.isValid()) {
      this.map.fitBounds(bounds, { padding: [20, 20], animate: false });
      this.fitted = true;
    }
    this.draw();
  }

  /** Ring a person (or, if no position is known, a [lon, lat]); pan there if off screen. */
  select(personId, fallback = null) {
    this.selected = { personId, at: fallback };
    const spot = this.selectedSpot();
    if (spot && !this.map.getBounds().contains(spot)) this.map.panTo(spot, { animate: false });
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (!this.fitted && this.persons.size) this.fit(); else this.draw();
    });
  }

  located() {
    return [...this.persons.values()].filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon));
  }

  /** A WGS-84 [lon, lat] → a Leaflet [lat, lon] on the basemap's datum. */
  toLatLng(point) {
    const [lon, lat] = fromWgs84(point, this.crs);
    return [lat, lon];
  }

  useBasemap({ tile_url: url, tile_crs: crs, tile_attribution: attribution }) {
    if (url) {
      L.tileLayer(url, { maxZoom: 19, attribution: escapeHtml(attribution) }).addTo(this.map);
      Object.assign(this, { basemap: true, crs });
    }
    this.container.dataset.basemap = url ? crs : "none"; // for tests and the curious
    this.fences.clearLayers(); // drawn before the config arrived: again, on the right datum
    for (const polygon of this.polygons) this.fences.addLayer(this.fenceLayer(polygon));
    for (const dot of this.dots.values()) dot.remove();
    this.dots.clear();
    if (this.fitted) this.fit(); else this.draw();
  }

  fenceLayer({ role, name, parts }) {
    // one layer, so one label; Leaflet puts it on the first part: the largest, not an islet
    const largestFirst = [...parts].sort((a, b) => spread(b[0]) - spread(a[0]));
    const latlngs = largestFirst.map((rings) => rings.map((ring) => ring.map((p) => this.toLatLng(p))));
    const layer = L.polygon(latlngs, {
      role, color: CONFIG.fenceColours[role] || CONFIG.unknownColour, weight: 1.5,
      dashArray: role === "allowed" ? null : "6 4", fillColor: CONFIG.fenceFills[role] || "transparent",
      fillOpacity: 1, className: `fence fence-${role}`,
    });
    // offline, the fences are the map: districts and street offices keep their names on screen
    const permanent = role === "exclusion" || !this.basemap;
    if (name) layer.bindTooltip(() => text(name), { permanent, sticky: !permanent, direction: "center",
      className: `fence-label fence-label-${role}` });
    return layer;
  }

  draw() {
    const persons = this.located();
    for (const [id, dot] of this.dots) if (!this.persons.has(id)) { dot.remove(); this.dots.delete(id); }
    for (const p of persons) this.drawDot(p);
    for (const p of persons) if (p.status === "outside") this.dots.get(p.person_id).bringToFront();
    const spot = this.selectedSpot();
    if (spot) this.ring.setLatLng(spot).addTo(this.map).bringToFront(); else this.ring.remove();
    this.onDrawn({ shown: persons.length, outside: persons.filter((p) => p.status === "outside").length });
  }

  drawDot(p) {
    const outside = p.status === "outside";
    const style = { radius: CONFIG.dotRadius[outside ? "outside" : "inside"], fillOpacity: 1,
      fillColor: CONFIG.levelColours[p.supervision_level] || CONFIG.unknownColour,
      color: outside ? CONFIG.outsideRing : "#0b1016", weight: outside ? 3 : 1 };
    let dot = this.dots.get(p.person_id);
    if (!dot) {
      dot = L.circleMarker(this.toLatLng([p.lon, p.lat]), { ...style, className: "person-dot" })
        .on("click", () => this.onPick(p.person_id))
        .bindTooltip(() => text(this.describe(p.person_id)), { direction: "top", offset: [0, -6] })
        .addTo(this.people);
      dot.getElement().dataset.personId = p.person_id;
      this.dots.set(p.person_id, dot);
    }
    dot.setLatLng(this.toLatLng([p.lon, p.lat])).setStyle(style);
    dot.getElement().dataset.status = p.status || "";
  }

  describe(personId) {
    const p = this.persons.get(personId) || {};
    return [p.case_number || `#${personId}`, label(LABELS.levels, p.supervision_level),
      label(LABELS.places, p.status) || "?", formatTime(p.ts)].join(" · ");
  }

  selectedSpot() {
    if (!this.selected) return null;
    const p = this.persons.get(this.selected.personId);
    const at = p && Number.isFinite(p.lat) ? [p.lon, p.lat] : this.selected.at;
    return at ? this.toLatLng(at) : null;
  }

  // ---- a person's track (playback.js drives these) ----------------------------------------

  /** Draw a track once: [{lat, lon, area}, ...] in WGS-84, time order. Fixes outside the
   * allowed area colour the segments that touch them; the marker starts on the first fix.
   * The map moves only when the track is not wholly in view beside a drawer padLeft pixels wide. */
  showTrack(points, { padLeft = 0 } = {}) {
    this.hideTrack();
    this.trackPoints = points.map((p) => this.toLatLng([p.lon, p.lat]));
    if (!this.trackPoints.length) return;
    const line = L.polyline(this.trackPoints, { color: CONFIG.track.line, weight: 3, opacity: 0.85,
      interactive: false, className: "track-line" });
    this.track = L.featureGroup([line, ...outsideRuns(points).map(([from, to]) =>
      L.polyline(this.trackPoints.slice(from, to + 1), { color: CONFIG.track.outside, weight: 4,
        interactive: false, className: "track-outside" }))]).addTo(this.map);
    this.trackMarker = L.circleMarker(this.trackPoints[0], { radius: 7, color: "#0b1016", weight: 2,
      fillColor: CONFIG.track.marker, fillOpacity: 1, interactive: false, className: "track-marker" })
      .addTo(this.map);
    if (!this.inView(line.getBounds(), padLeft)) {
      this.map.fitBounds(line.getBounds(), { paddingTopLeft: [padLeft + 20, 20], paddingBottomRight: [20, 20],
        maxZoom: 17, animate: false });
    }
    this.moveTrackMarker(0);
  }

  /** Whether bounds lie in the part of the map not covered by a drawer padLeft pixels wide. */
  inView(bounds, padLeft) {
    const { x, y } = this.map.getSize();
    const open = L.latLngBounds(this.map.containerPointToLatLng([padLeft, y]), this.map.containerPointToLatLng([x, 0]));
    return open.contains(bounds);
  }

  hideTrack() {
    this.track?.remove();
    this.trackMarker?.remove();
    Object.assign(this, { track: null, trackMarker: null, trackPoints: [] });
  }

  /** Only the marker moves: the line is drawn once, however long the track. */
  moveTrackMarker(i) {
    const at = this.trackPoints?.[i];
    if (!at || !this.trackMarker) return;
    this.trackMarker.setLatLng(at).bringToFront();
    this.trackMarker.getElement().dataset.index = i; // for tests and the curious
    if (!this.map.getBounds().contains(at)) this.map.panTo(at, { animate: false });
  }

  /** Fill a <ul> with one entry per supervision level colour and the outside ring; again after
   * each language switch. */
  legend(ul) {
    if (!this.legendList) onLanguageChange(() => this.legend(this.legendList));
    this.legendList = ul;
    const item = (style, className, label) => {
      const li = document.createElement("li"), dot = document.createElement("i");
      Object.assign(dot, { className, style });
      li.append(dot, label);
      return li;
    };
    ul.replaceChildren(...Object.entries(CONFIG.levelColours).map(([level, colour]) =>
      item(`background:${colour}`, "dot", label(LABELS.levels, level))),
    item(`border-color:${CONFIG.outsideRing}`, "dot ring", t("map.outside")));
  }
}

/** Bottom-right: WGS-84 latitude, longitude under the pointer (what pings and fences speak). */
function cursorReadout(map, toWgs) {
  const box = L.DomUtil.create("output", "map-cursor");
  box.id = "map-cursor";
  const control = L.control({ position: "bottomright" });
  control.onAdd = () => box;
  control.addTo(map);
  map.on("mousemove", ({ latlng }) => {
    const [lon, lat] = toWgs(latlng);
    box.textContent = `${lat.toFixed(6)}, ${lon.toFixed(6)}`;
    Object.assign(box.dataset, { lat, lon, mapLat: latlng.lat, mapLon: latlng.lng });
  });
  map.on("mouseout", () => { box.textContent = ""; });
}

/** [first, last] index pairs covering each run of fixes outside the allowed area, widened by one
 * fix each side so the way out and back is coloured too (and a lone fix still makes a line). */
function outsideRuns(points) {
  const runs = [];
  points.forEach((p, i) => {
    if (p.area !== "outside") return;
    const last = runs[runs.length - 1];
    const [from, to] = [Math.max(0, i - 1), Math.min(points.length - 1, i + 1)];
    if (last && from <= last[1]) last[1] = to; else runs.push([from, to]);
  });
  return runs;
}

/** A ring's bounding-box area in square degrees: enough to tell a district from an islet. */
function spread(ring = []) {
  let [w, e, s, n] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [lon, lat] of ring) {
    w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat);
  }
  return ring.length ? (e - w) * (n - s) : 0;
}

// names come from officers and tile settings: text, never markup (Leaflet would parse strings)
const text = (value) => document.createTextNode(value);

function escapeHtml(value) {
  const span = document.createElement("span");
  span.textContent = value || "";
  return span.innerHTML;
}
