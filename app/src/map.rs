//! Bindings to `map.js`, the small module that drives MapLibre GL JS.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/map.js")]
extern "C" {
    #[wasm_bindgen(js_name = mountMap)]
    pub fn mount_map(container_id: &str, info_json: &str, on_select: &js_sys::Function) -> bool;

    #[wasm_bindgen(js_name = setIncidents)]
    pub fn set_incidents(feature_collection_json: &str);

    #[wasm_bindgen(js_name = districtChanged)]
    pub fn district_changed(generation: f64);

    #[wasm_bindgen(js_name = selectIncident)]
    pub fn select_incident(id: f64, lon: f64, lat: f64, fly: bool);
}
