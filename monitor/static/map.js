// The map panel: fence outlines and one dot per person on a canvas; drag to pan, wheel to zoom.
import { CONFIG, LABELS, bilingual, formatTime } from "./config.js";
import { View } from "./geo.js";

export class MapPanel {
  /**
   * persons: Map person_id → {lat, lon, status, supervision_level, case_number, ts};
   * onPick(personId) when a dot is clicked; onDrawn({shown, outside}) after each frame.
   */
  constructor(canvas, { persons, onPick, onDrawn }) {
    Object.assign(this, { canvas, persons, onPick, onDrawn, view: new View(), polygons: [],
      selected: null, fitted: false, pending: false });
    this.listen();
  }

  reset() { Object.assign(this, { view: new View(), polygons: [], selected: null, fitted: false }); }

  /** polygons: [{role: "allowed"|"exclusion", rings: [[[lon, lat], ...], ...]}] in WGS-84. */
  addPolygons(polygons) { this.polygons.push(...polygons); }

  /** Fit the allowed fences (or, with none, the persons) into the panel. */
  fit() {
    this.resize();
    const fences = this.polygons.filter((p) => p.role === "allowed").flatMap((p) => p.rings.flat());
    const people = this.located().map((p) => [p.lon, p.lat]);
    this.fitted = this.view.fit(fences.length ? fences : people) || this.fitted;
    this.draw();
  }

  /** Ring a person (or, if no position is known, a [lon, lat]); pan there if off screen. */
  select(personId, fallback = null) {
    const p = this.persons.get(personId);
    const at = p ? [p.lon, p.lat] : fallback;
    this.selected = { personId, at };
    if (at && !this.view.visible(...at)) [this.view.lon, this.view.lat] = at;
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

  resize() {
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.canvas.clientWidth * dpr);
    this.canvas.height = Math.round(this.canvas.clientHeight * dpr);
    this.view.resize(this.canvas.clientWidth, this.canvas.clientHeight);
  }

  draw() {
    const dpr = window.devicePixelRatio || 1, ctx = this.canvas.getContext("2d"), view = this.view;
    if (this.canvas.width !== Math.round(this.canvas.clientWidth * dpr)
      || this.canvas.height !== Math.round(this.canvas.clientHeight * dpr)) this.resize();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, view.width, view.height);
    for (const { role, rings } of this.polygons) {
      ctx.beginPath();
      for (const ring of rings) ring.forEach(([lon, lat], i) => ctx[i ? "lineTo" : "moveTo"](...view.toScreen(lon, lat)));
      ctx.fillStyle = CONFIG.fenceFills[role] || "transparent";
      ctx.fill("evenodd");
      ctx.setLineDash(role === "allowed" ? [] : [6, 4]);
      ctx.strokeStyle = CONFIG.fenceColours[role] || CONFIG.unknownColour;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    ctx.setLineDash([]);
    const persons = this.located();
    persons.sort((a, b) => (a.status === "outside") - (b.status === "outside")); // outside on top
    for (const p of persons) {
      const [x, y] = view.toScreen(p.lon, p.lat), outside = p.status === "outside";
      const fill = CONFIG.levelColours[p.supervision_level] || CONFIG.unknownColour;
      circle(ctx, x, y, CONFIG.dotRadius[outside ? "outside" : "inside"], { fill });
      if (outside) circle(ctx, x, y, CONFIG.dotRadius.outside + 4, { stroke: CONFIG.outsideRing, width: 2 });
    }
    const chosen = this.selected && this.persons.get(this.selected.personId);
    const spot = chosen ? [chosen.lon, chosen.lat] : this.selected?.at;
    if (spot) circle(ctx, ...view.toScreen(...spot), 15, { stroke: CONFIG.selectedRing, width: 3 });
    this.onDrawn({ shown: persons.length, outside: persons.filter((p) => p.status === "outside").length });
  }

  /** Fill a <ul> with one entry per supervision level colour and the outside ring. */
  legend(ul) {
    const item = (style, className, text) => {
      const li = document.createElement("li"), dot = document.createElement("i");
      Object.assign(dot, { className, style });
      li.append(dot, text);
      return li;
    };
    ul.replaceChildren(...Object.entries(CONFIG.levelColours).map(([level, colour]) =>
      item(`background:${colour}`, "dot", bilingual(LABELS.levels, level))),
    item(`border-color:${CONFIG.outsideRing}`, "dot ring", "围栏外 outside"));
  }

  personAt(x, y, radius = 10) {
    let best = null, bestD = radius * radius;
    for (const p of this.located()) {
      const [px, py] = this.view.toScreen(p.lon, p.lat), d = (px - x) ** 2 + (py - y) ** 2;
      if (d < bestD) [best, bestD] = [p, d];
    }
    return best;
  }

  listen() {
    const canvas = this.canvas;
    let drag = null, moved = 0;
    canvas.addEventListener("pointerdown", (e) => {
      [drag, moved] = [[e.offsetX, e.offsetY], 0];
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener("pointerup", (e) => {
      const picked = drag && moved < 4 && this.personAt(e.offsetX, e.offsetY);
      drag = null;
      if (picked) this.onPick(picked.person_id);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!drag) {
        const p = this.personAt(e.offsetX, e.offsetY);
        canvas.title = p ? [p.case_number || `#${p.person_id}`, bilingual(LABELS.levels, p.supervision_level),
          p.status || "?", formatTime(p.ts)].join(" · ") : "";
        return;
      }
      moved += Math.abs(e.offsetX - drag[0]) + Math.abs(e.offsetY - drag[1]);
      this.view.pan(e.offsetX - drag[0], e.offsetY - drag[1]);
      drag = [e.offsetX, e.offsetY];
      this.schedule();
    });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.view.zoomAt(Math.exp(-e.deltaY * 0.0015), e.offsetX, e.offsetY);
      this.schedule();
    }, { passive: false });
    window.addEventListener("resize", () => this.schedule());
  }
}

function circle(ctx, x, y, r, { fill, stroke, width = 1 }) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  if (fill) { ctx.fillStyle = fill; ctx.fill(); }
  if (stroke) { ctx.strokeStyle = stroke; ctx.lineWidth = width; ctx.stroke(); }
}
