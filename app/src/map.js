// The district map: MapLibre GL JS drawing only onegrid's own layers (no remote tiles).
// Bound from Rust (app/src/map.rs); the page calls mountMap once, then setIncidents and
// selectIncident as state changes. `window.onegrid.map` exposes the map to operators' tools.
//
// The large layers (buildings, roads, pipelines, POIs, community and grid boundaries) come from
// the server's vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt, thinned by zoom on the server; see
// server/src/tiles/mod.rs); only the district and street outlines (a handful of polygons) and the
// selected incident's surroundings come as GeoJSON. From bottom to top: district and street
// fills, buildings, roads, pipelines, boundaries, POIs, the selected incident's surroundings,
// incidents.
import * as maplibregl from "/assets/vendor/maplibre-gl/maplibre-gl.mjs";

const STREET_COLORS = ["#3b82f6", "#a855f7", "#14b8a6", "#f59e0b", "#ec4899", "#84cc16"];
const STATUS_COLORS = ["match", ["get", "status"],
  "reported", "#ff4d4f",
  "dispatched", "#faad14",
  "resolved", "#52c41a",
  "#8c8c8c"];

/** Pipeline kinds and their colours (给水, 排水, 燃气, 电力, 通信). The legend (app/src/legend.rs) uses the same. */
export const PIPELINE_COLORS = [
  ["water_supply", "#38bdf8"],
  ["drainage", "#a3e635"],
  ["gas", "#facc15"],
  ["power", "#f87171"],
  ["telecom", "#c084fc"],
];

/** Dash pattern of each pipeline kind, in line widths ([1, 0] is solid). The legend uses the same. */
export const PIPELINE_DASHES = [
  ["water_supply", [1, 0]],
  ["drainage", [4, 2]],
  ["gas", [2, 2]],
  ["power", [4, 1.5, 1, 1.5]],
  ["telecom", [1, 2]],
];

/** Pipelines of any other kind (imported data): thin grey. */
const OTHER_PIPELINE = "#9ca3af";

/** Building fill by kind (the demo district's kinds and the common OSM `building=*` values). */
const BUILDING_COLOR = ["match", ["get", "kind"],
  ["residential", "house", "apartments", "detached", "dormitory", "terrace"], "#2e3d5c",
  ["commercial", "retail", "office", "supermarket", "hotel", "mixed"], "#4b3f66",
  ["industrial", "warehouse", "factory", "manufacture"], "#4d4531",
  ["public", "civic", "government", "hospital", "train_station", "transportation"], "#244f55",
  ["school", "university", "college", "kindergarten"], "#2f5232",
  "#343d52"];

/**
 * A value per road class, from the road's `kind` (its OSM `highway` value): `[major (motorway,
 * trunk), arterial (primary), secondary, branch (tertiary), local (any other kind), path]`.
 */
const byRoadClass = ([major, arterial, secondary, branch, local, path]) => ["match", ["get", "kind"],
  ["motorway", "motorway_link", "trunk", "trunk_link"], major,
  ["primary", "primary_link"], arterial,
  ["secondary", "secondary_link"], secondary,
  ["tertiary", "tertiary_link"], branch,
  ["footway", "path", "cycleway", "steps", "pedestrian", "track", "bridleway", "corridor"], path,
  local];

/**
 * Deepest zoom whose tiles the map requests; deeper views overzoom them. From z14 every layer is
 * complete in the tiles, and at z16 they are simplified to ~0.15 m, so deeper tiles would only
 * multiply requests (each zoom step ×4) for no visible difference.
 */
const DEEPEST_TILE_ZOOM = 16;

/** Radius of the highlighted surroundings of a selected incident, metres. */
const NEARBY_RADIUS_M = 50;

let map = null;
let loaded = false;
let pendingIncidents = null;
let pendingSelection = null;
let onSelect = null;

function style() {
  return {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#0b1220" } }],
  };
}

function addLayers(m, info) {
  const boundary = (level) => ({ type: "geojson", data: `/api/v1/map/boundaries/${level}` });
  // Tiles are requested only inside the district, from the zoom where the server starts putting
  // the layer's features in them, up to DEEPEST_TILE_ZOOM; MapLibre overzooms beyond.
  const [[west, south], [east, north]] = info.bounds;
  const tiles = (layer, minzoom, promoteId) => ({
    type: "vector",
    tiles: [`${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt`],
    minzoom,
    maxzoom: Math.min(info.tile_max_zoom, DEEPEST_TILE_ZOOM),
    bounds: [west, south, east, north],
    promoteId,
  });
  m.addSource("district", boundary("district"));
  m.addSource("streets", boundary("street"));
  // Zooms from which the server's tiles hold each layer (server/src/tiles/mod.rs).
  m.addSource("buildings", tiles("buildings", 14, "id"));
  m.addSource("roads", tiles("roads", 8, "id"));
  m.addSource("pipelines", tiles("pipelines", 14, "id"));
  m.addSource("pois", tiles("pois", 10, "id"));
  // Communities from z10, grids from z12 (district and streets are drawn from the GeoJSON).
  m.addSource("jurisdictions", tiles("jurisdictions", 10, "code"));
  m.addSource("incidents", { type: "geojson", data: { type: "FeatureCollection", features: [] }, promoteId: "id" });

  const streetColor = ["match", ["get", "code"],
    "440604010", STREET_COLORS[0],
    "440604011", STREET_COLORS[1],
    "440604012", STREET_COLORS[2],
    "440604100", STREET_COLORS[3],
    STREET_COLORS[4]];
  m.addLayer({ id: "district-fill", type: "fill", source: "district", paint: { "fill-color": "#111c33" } });
  m.addLayer({ id: "street-fill", type: "fill", source: "streets", paint: { "fill-color": streetColor, "fill-opacity": 0.12 } });
  m.addLayer({ id: "building-fill", type: "fill", source: "buildings", "source-layer": "buildings", minzoom: 14,
    paint: {
      "fill-color": BUILDING_COLOR,
      "fill-opacity": ["interpolate", ["linear"], ["zoom"], 14, 0.55, 16, 0.9],
    } });
  m.addLayer({ id: "building-outline", type: "line", source: "buildings", "source-layer": "buildings", minzoom: 14,
    paint: {
      "line-color": "#6f83ad",
      "line-width": ["interpolate", ["linear"], ["zoom"], 14, 0.3, 17, 1],
      "line-opacity": ["interpolate", ["linear"], ["zoom"], 14, 0.35, 16, 0.7],
    } });
  m.addLayer({ id: "road-line", type: "line", source: "roads", "source-layer": "roads",
    // Major roads drawn over minor ones where they meet.
    layout: { "line-cap": "round", "line-join": "round", "line-sort-key": byRoadClass([5, 4, 3, 2, 1, 0]) },
    paint: {
      "line-color": byRoadClass(["#e0b15c", "#c9a15a", "#a8976e", "#8d8f99", "#6b7280", "#4b5563"]),
      // Thin lines at district scale; from z16 about as wide as the road on the ground.
      "line-width": ["interpolate", ["exponential", 2], ["zoom"],
        8, byRoadClass([1.2, 0.8, 0.5, 0.4, 0.3, 0.2]),
        12, byRoadClass([2.6, 2, 1.4, 1, 0.6, 0.4]),
        14, byRoadClass([5, 4, 3, 2.2, 1.5, 0.8]),
        16, byRoadClass([18, 14, 11, 8, 6, 2]),
        19, byRoadClass([130, 100, 80, 60, 44, 12])],
      "line-opacity": ["interpolate", ["linear"], ["zoom"], 14, 0.9, 16, 0.75],
    } });
  m.addLayer({ id: "pipeline-line", type: "line", source: "pipelines", "source-layer": "pipelines", minzoom: 15,
    paint: {
      "line-color": ["match", ["get", "kind"], ...PIPELINE_COLORS.flat(), OTHER_PIPELINE],
      "line-dasharray": ["match", ["get", "kind"],
        ...PIPELINE_DASHES.flatMap(([kind, dash]) => [kind, ["literal", dash]]), ["literal", [1, 0]]],
      "line-width": ["interpolate", ["linear"], ["zoom"], 15, 1.2, 16, 1.6, 19, 3.5],
    } });
  m.addLayer({ id: "grid-line", type: "line", source: "jurisdictions", "source-layer": "jurisdictions", minzoom: 13,
    filter: ["==", ["get", "level"], "grid"],
    paint: { "line-color": "#4b5d80", "line-width": 0.6, "line-dasharray": [2, 2] } });
  m.addLayer({ id: "community-line", type: "line", source: "jurisdictions", "source-layer": "jurisdictions", minzoom: 11,
    filter: ["==", ["get", "level"], "community"],
    paint: { "line-color": "#6b7fa8", "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.6, 15, 1.4] } });
  m.addLayer({ id: "street-line", type: "line", source: "streets", paint: { "line-color": streetColor, "line-width": 2.2 } });
  m.addLayer({ id: "district-line", type: "line", source: "district", paint: { "line-color": "#9fb4ff", "line-width": 3 } });
  m.addLayer({ id: "poi-circle", type: "circle", source: "pois", "source-layer": "pois", minzoom: 13,
    paint: {
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 13, 2.5, 17, 5],
      "circle-color": "#e879f9",
      "circle-opacity": 0.85,
      "circle-stroke-color": "#0b1220",
      "circle-stroke-width": 1,
    } });
  // Assets near the selected incident, above every tile layer; each pipeline kind drawn distinctly.
  m.addSource("nearby", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  m.addLayer({ id: "nearby-building", type: "fill", source: "nearby",
    filter: ["==", ["get", "layer"], "buildings"],
    paint: { "fill-color": "#60a5fa", "fill-opacity": 0.45, "fill-outline-color": "#bfdbfe" } });
  m.addLayer({ id: "nearby-road", type: "line", source: "nearby",
    filter: ["==", ["get", "layer"], "roads"],
    layout: { "line-cap": "round" },
    paint: { "line-color": "#fde68a", "line-width": 7, "line-opacity": 0.75 } });
  m.addLayer({ id: "nearby-pipeline", type: "line", source: "nearby",
    filter: ["==", ["get", "layer"], "pipelines"],
    paint: {
      "line-color": ["match", ["get", "kind"], ...PIPELINE_COLORS.flat(), "#e5e7eb"],
      "line-width": 3,
      "line-dasharray": [2, 1],
    } });
  m.addLayer({ id: "nearby-poi", type: "circle", source: "nearby",
    filter: ["==", ["get", "layer"], "pois"],
    paint: { "circle-radius": 6, "circle-color": "#f0abfc", "circle-stroke-color": "#0b1220", "circle-stroke-width": 1 } });
  m.addLayer({ id: "incident-halo", type: "circle", source: "incidents",
    filter: ["==", ["get", "id"], -1],
    paint: { "circle-radius": 16, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#ffffff", "circle-stroke-width": 3 } });
  m.addLayer({ id: "incident-circle", type: "circle", source: "incidents",
    paint: {
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 10, 4, 15, 9],
      "circle-color": STATUS_COLORS,
      "circle-stroke-color": "#0b1220",
      "circle-stroke-width": 1.5,
      "circle-opacity": ["match", ["get", "status"], "resolved", 0.55, 0.95],
    } });

  m.on("click", "incident-circle", (e) => {
    const f = e.features && e.features[0];
    if (f && onSelect) onSelect(Number(f.properties.id));
  });
  m.on("mouseenter", "incident-circle", () => { m.getCanvas().style.cursor = "pointer"; });
  m.on("mouseleave", "incident-circle", () => { m.getCanvas().style.cursor = ""; });
}

/** Creates the map in the element with id `containerId`. `info` is /api/v1/map/info as JSON. */
export function mountMap(containerId, infoJson, selectCallback) {
  // Returns false when the map cannot start (no WebGL).
  const info = JSON.parse(infoJson);
  onSelect = selectCallback;
  if (map) return true;
  try {
    map = new maplibregl.Map({
      container: containerId,
      style: style(),
      bounds: info.bounds,
      // Keep the district clear of the incident panel on the right.
      fitBoundsOptions: {
        padding: { top: 24, bottom: 24, left: 24, right: (document.querySelector(".incident-panel")?.offsetWidth || 0) + 40 },
      },
      maxBounds: [[info.bounds[0][0] - 0.3, info.bounds[0][1] - 0.3], [info.bounds[1][0] + 0.3, info.bounds[1][1] + 0.3]],
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
    });
  } catch (err) {
    console.error("map could not start", err);
    document.getElementById(containerId)?.setAttribute("data-map-error", String(err));
    return false;
  }
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.on("load", () => {
    addLayers(map, info);
    loaded = true;
    document.getElementById(containerId)?.setAttribute("data-map-ready", "true");
    if (pendingIncidents) setIncidents(pendingIncidents);
    if (pendingSelection) selectIncident(...pendingSelection);
    if (pendingGeneration !== null) districtChanged(pendingGeneration);
  });
  window.onegrid = Object.assign(window.onegrid || {}, {
    map,
    /** Ids of the incident markers drawn on screen now. */
    /** Ids of the highlighted nearby assets drawn on screen now. */
    renderedNearbyIds: () => (loaded
      ? map.queryRenderedFeatures({ layers: ["nearby-building", "nearby-road", "nearby-pipeline", "nearby-poi"] })
        .map((f) => f.properties.id)
      : []),
    renderedIncidentIds: () => (loaded
      ? map.queryRenderedFeatures({ layers: ["incident-circle"] }).map((f) => Number(f.properties.id))
      : []),
  });
  return true;
}

/** Tile and boundary sources read from the server, refetched when the district changes. */
const TILE_SOURCES = ["buildings", "roads", "pipelines", "pois", "jurisdictions"];
const BOUNDARY_SOURCES = [["district", "district"], ["streets", "street"]];
let pendingGeneration = null;

/**
 * The server loaded new district data (an import): refetch every tile and boundary, with the
 * generation in the URL so neither MapLibre nor the browser answers from an older copy.
 */
export function districtChanged(generation) {
  if (!loaded) {
    pendingGeneration = generation;
    return;
  }
  pendingGeneration = null;
  for (const id of TILE_SOURCES) {
    const source = map.getSource(id);
    if (source && source.setTiles) {
      source.setTiles([`${location.origin}/tiles/${id}/{z}/{x}/{y}.mvt?g=${generation}`]);
    }
  }
  for (const [id, level] of BOUNDARY_SOURCES) {
    const source = map.getSource(id);
    if (source) source.setData(`/api/v1/map/boundaries/${level}?g=${generation}`);
  }
}

/** Replaces the incident markers with a GeoJSON FeatureCollection (as a JSON string). */
export function setIncidents(featureCollectionJson) {
  if (!loaded) {
    pendingIncidents = featureCollectionJson;
    return;
  }
  pendingIncidents = null;
  map.getSource("incidents").setData(JSON.parse(featureCollectionJson));
}

/** Highlights incident `id` (or none with -1) and, if `fly`, flies to it. */
export function selectIncident(id, lon, lat, fly) {
  if (!loaded) {
    pendingSelection = [id, lon, lat, fly];
    return;
  }
  pendingSelection = null;
  map.setFilter("incident-halo", ["==", ["get", "id"], id]);
  const nearby = map.getSource("nearby");
  if (id >= 0) {
    nearby.setData(`/api/v1/spatial/nearby.geojson?lat=${lat}&lon=${lon}&radius_m=${NEARBY_RADIUS_M}`);
  } else {
    nearby.setData({ type: "FeatureCollection", features: [] });
  }
  if (fly) {
    map.flyTo({ center: [lon, lat], zoom: Math.max(map.getZoom(), 15), speed: 1.6, essential: true });
  }
}

