// Map geometry for the duty console: fence CRS → WGS-84 (positions are WGS-84) and a pannable,
// zoomable equirectangular view. A port of geofence/crs.py; no tiles, nothing fetched.

const A = 6378245.0; // Krasovsky 1940, as GCJ-02 uses it
const EE = 0.00669342162296594323;
const X_PI = (Math.PI * 3000.0) / 180.0;

const outOfChina = (lat, lon) => lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;

function transformLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return r;
}

function transformLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return r;
}

function wgsToGcj(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  const rad = (lat / 180.0) * Math.PI;
  const magic = 1 - EE * Math.sin(rad) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (transformLat(lon - 105.0, lat - 35.0) * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  const dLon = (transformLon(lon - 105.0, lat - 35.0) * 180.0) / ((A / sqrtMagic) * Math.cos(rad) * Math.PI);
  return [lat + dLat, lon + dLon];
}

function gcjToWgs(lat, lon) {
  let [wLat, wLon] = [lat, lon];
  for (let i = 0; i < 6; i++) { // iterative inverse, well under a centimetre
    const [gLat, gLon] = wgsToGcj(wLat, wLon);
    [wLat, wLon] = [wLat - (gLat - lat), wLon - (gLon - lon)];
  }
  return [wLat, wLon];
}

function bdToGcj(lat, lon) {
  const [x, y] = [lon - 0.0065, lat - 0.006];
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * X_PI);
  const theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * X_PI);
  return [z * Math.sin(theta), z * Math.cos(theta)];
}

/** One GeoJSON position [lon, lat] in `crs` ("wgs84" | "gcj02" | "bd09") → [lon, lat] WGS-84. */
export function toWgs84([lon, lat], crs) {
  if (crs === "gcj02") { const [la, lo] = gcjToWgs(lat, lon); return [lo, la]; }
  if (crs === "bd09") { const [la, lo] = gcjToWgs(...bdToGcj(lat, lon)); return [lo, la]; }
  return [lon, lat];
}

/** A Polygon or MultiPolygon → list of polygons, each a list of WGS-84 rings. */
export function polygonsOf(geometry, crs) {
  if (!geometry) return [];
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates]
    : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  return polygons.map((rings) => rings.map((ring) => ring.map((p) => toWgs84(p, crs))));
}

/** Equirectangular view: `scale` screen px per degree of latitude, longitude shrunk by cos(lat). */
export class View {
  constructor() {
    Object.assign(this, { lon: 114.05, lat: 22.55, scale: 1500, kx: Math.cos((22.55 * Math.PI) / 180), width: 1, height: 1 });
  }

  resize(width, height) { Object.assign(this, { width, height }); }

  /** Centre on the bbox of [lon, lat] points with a margin; true if there was anything to fit. */
  fit(points) {
    if (!points.length) return false;
    let [w, e, s, n] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [lon, lat] of points) {
      w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat);
    }
    this.lon = (w + e) / 2;
    this.lat = (s + n) / 2;
    this.kx = Math.cos((this.lat * Math.PI) / 180);
    const spanX = Math.max((e - w) * this.kx, 0.005), spanY = Math.max(n - s, 0.005);
    this.scale = 0.9 * Math.min(this.width / spanX, this.height / spanY);
    return true;
  }

  toScreen(lon, lat) {
    return [this.width / 2 + (lon - this.lon) * this.kx * this.scale, this.height / 2 - (lat - this.lat) * this.scale];
  }

  toLonLat(x, y) {
    return [this.lon + (x - this.width / 2) / (this.kx * this.scale), this.lat - (y - this.height / 2) / this.scale];
  }

  visible(lon, lat, margin = 20) {
    const [x, y] = this.toScreen(lon, lat);
    return x > margin && y > margin && x < this.width - margin && y < this.height - margin;
  }

  pan(dx, dy) {
    this.lon -= dx / (this.kx * this.scale);
    this.lat += dy / this.scale;
  }

  /** Zoom by `factor` keeping the point under screen (x, y) where it is. */
  zoomAt(factor, x, y) {
    const [lon, lat] = this.toLonLat(x, y);
    this.scale = Math.min(Math.max(this.scale * factor, 50), 5e6);
    const [x2, y2] = this.toScreen(lon, lat);
    this.pan(x - x2, y - y2);
  }
}
