// The district map: MapLibre GL JS drawing only onegrid's own layers (no remote tiles).
// Bound from Rust (app/src/map.rs); the page calls mountMap once, then setIncidents and
// selectIncident as state changes. `window.onegrid.map` exposes the map to operators' tools.
import * as maplibregl from "/assets/vendor/maplibre-gl/maplibre-gl.mjs";

const STREET_COLORS = ["#3b82f6", "#a855f7", "#14b8a6", "#f59e0b", "#ec4899", "#84cc16"];
const STATUS_COLORS = ["match", ["get", "status"],
  "reported", "#ff4d4f",
  "dispatched", "#faad14",
  "resolved", "#52c41a",
  "#8c8c8c"];

/** Pipeline kinds and their colours (给水, 排水, 燃气, 电力, 通信). */
export const PIPELINE_COLORS = [
  ["water_supply", "#38bdf8"],
  ["drainage", "#a3e635"],
  ["gas", "#facc15"],
  ["power", "#f87171"],
  ["telecom", "#c084fc"],
];

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
  m.addSource("district", boundary("district"));
  m.addSource("streets", boundary("street"));
  m.addSource("communities", boundary("community"));
  m.addSource("grids", boundary("grid"));
  m.addSource("roads", { type: "geojson", data: "/api/v1/map/roads" });
  m.addSource("incidents", { type: "geojson", data: { type: "FeatureCollection", features: [] }, promoteId: "id" });

  const streetColor = ["match", ["get", "code"],
    "440604010", STREET_COLORS[0],
    "440604011", STREET_COLORS[1],
    "440604012", STREET_COLORS[2],
    "440604100", STREET_COLORS[3],
    STREET_COLORS[4]];
  m.addLayer({ id: "district-fill", type: "fill", source: "district", paint: { "fill-color": "#111c33" } });
  m.addLayer({ id: "street-fill", type: "fill", source: "streets", paint: { "fill-color": streetColor, "fill-opacity": 0.12 } });
  m.addLayer({ id: "grid-line", type: "line", source: "grids", minzoom: 13,
    paint: { "line-color": "#4b5d80", "line-width": 0.6, "line-dasharray": [2, 2] } });
  m.addLayer({ id: "community-line", type: "line", source: "communities", minzoom: 11,
    paint: { "line-color": "#6b7fa8", "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.6, 15, 1.4] } });
  m.addLayer({ id: "road-line", type: "line", source: "roads",
    layout: { "line-cap": "round", "line-join": "round" },
    paint: {
      "line-color": ["match", ["get", "class"], "trunk", "#e0b15c", "primary", "#c9a15a", "#8d8f99"],
      "line-width": ["interpolate", ["linear"], ["zoom"], 10, ["match", ["get", "class"], "trunk", 1.6, "primary", 1.1, 0.6],
        16, ["match", ["get", "class"], "trunk", 7, "primary", 5, 3]],
      "line-opacity": 0.85,
    } });
  m.addLayer({ id: "street-line", type: "line", source: "streets", paint: { "line-color": streetColor, "line-width": 2.2 } });
  m.addLayer({ id: "district-line", type: "line", source: "district", paint: { "line-color": "#9fb4ff", "line-width": 3 } });
  // Assets near the selected incident, each pipeline kind drawn distinctly.
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

