// Map geometry for the duty console: fence CRS → WGS-84 (positions are WGS-84), and WGS-84 →
// the basemap's datum (GCJ-02 for most Chinese tile sources). A port of geofence/crs.py.

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

/** One WGS-84 [lon, lat] → [lon, lat] in the basemap's `crs` ("wgs84" | "gcj02"): tiles of a
 * GCJ-02 source are drawn shifted, so what is drawn on them must be shifted alike. */
export function fromWgs84([lon, lat], crs) {
  if (crs !== "gcj02") return [lon, lat];
  const [la, lo] = wgsToGcj(lat, lon);
  return [lo, la];
}
