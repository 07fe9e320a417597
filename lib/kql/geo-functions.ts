/** Geospatial functions on longitude/latitude pairs in degrees. */
import { rowwise, type ScalarFunction } from "./call.js";
import { errorAt } from "./kusto.js";
import { toNumber } from "./values.js";

/** The sphere Kusto measures on by default: radius 6,371,010 m (its documented Seattle-Los Angeles distance gives exactly this). */
const EARTH_RADIUS_M = 6_371_010;

const radians = (degrees: number): number => (degrees * Math.PI) / 180;

function coordinate(longitude: unknown, latitude: unknown): { lon: number; lat: number } | null {
  const lon = toNumber(longitude as never);
  const lat = toNumber(latitude as never);
  if (lon === null || lat === null || !Number.isFinite(lon) || !Number.isFinite(lat)) return null;
  if (lon < -180 || lon > 180 || lat < -90 || lat > 90) return null;
  return { lon, lat };
}

/** Great-circle distance in meters on the sphere (haversine), or null for an invalid coordinate. */
function sphereDistance(a: { lon: number; lat: number } | null, b: { lon: number; lat: number } | null): number | null {
  if (!a || !b) return null;
  const dLat = radians(b.lat - a.lat);
  const dLon = radians(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.lat)) * Math.cos(radians(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** geo_distance_2points(lon1, lat1, lon2, lat2 [, use_spheroid]): meters on the sphere; the spheroid is not implemented. */
const distance2Points: ScalarFunction = (call) => {
  const spheroid = call.args[4];
  if (spheroid && !(spheroid.constant && spheroid.fn([]) === false)) {
    throw errorAt(
      call.ctx.query,
      call.node,
      "geo_distance_2points with use_spheroid is not supported by the local engine (it measures on the sphere)",
    );
  }
  return rowwise((v) => sphereDistance(coordinate(v[0], v[1]), coordinate(v[2], v[3])), { type: "real" })(call);
};

export const GEO_FUNCTIONS: Record<string, ScalarFunction> = {
  geo_distance_2points: distance2Points,
  /** geo_point_in_circle(lon, lat, center_lon, center_lat, radius_m): within radius meters of the center, on the same sphere. */
  geo_point_in_circle: rowwise(
    (v) => {
      const d = sphereDistance(coordinate(v[0], v[1]), coordinate(v[2], v[3]));
      const radius = toNumber(v[4]);
      return d === null || radius === null || radius < 0 ? null : d <= radius;
    },
    { type: "bool" },
  ),
};
