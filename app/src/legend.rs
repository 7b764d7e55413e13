//! The map's legend: the tile layers and the pipeline kinds, each drawn as the map draws it
//! (`map.js`: `PIPELINE_COLORS`, `PIPELINE_DASHES`). Server-rendered, so it shows before the map
//! loads; a `<details>` element, so an operator can fold it away on a small screen.

use leptos::prelude::*;

use crate::dashboard::Dash;
use crate::i18n::{kind_label, texts};

/// How the map draws one pipeline kind.
pub struct PipelineStyle {
    pub kind: &'static str,
    /// CSS colour.
    pub color: &'static str,
    /// Dash pattern in line widths; `[1, 0]` is solid.
    pub dash: &'static [f64],
}

/// The pipeline kinds as `map.js` draws them (a test holds the two in step).
pub static PIPELINES: [PipelineStyle; 5] = [
    PipelineStyle {
        kind: "water_supply",
        color: "#38bdf8",
        dash: &[1.0, 0.0],
    },
    PipelineStyle {
        kind: "drainage",
        color: "#a3e635",
        dash: &[4.0, 2.0],
    },
    PipelineStyle {
        kind: "gas",
        color: "#facc15",
        dash: &[2.0, 2.0],
    },
    PipelineStyle {
        kind: "power",
        color: "#f87171",
        dash: &[4.0, 1.5, 1.0, 1.5],
    },
    PipelineStyle {
        kind: "telecom",
        color: "#c084fc",
        dash: &[1.0, 2.0],
    },
];

/// Width of a swatch's line in SVG units (the dash pattern scales with it, as on the map).
const SWATCH_WIDTH: f64 = 3.0;

/// The SVG `stroke-dasharray` of a dash pattern in line widths; `None` when solid.
fn svg_dasharray(dash: &[f64]) -> Option<String> {
    if dash.iter().skip(1).step_by(2).all(|gap| *gap == 0.0) {
        return None;
    }
    Some(
        dash.iter()
            .map(|d| format!("{}", d * SWATCH_WIDTH))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[component]
pub fn MapLegend() -> impl IntoView {
    let dash = expect_context::<Dash>();
    let t = move || texts(dash.lang.get());
    let pipelines = PIPELINES
        .iter()
        .map(|p| {
            view! {
                <li data-kind=p.kind data-color=p.color>
                    <svg class="swatch" viewBox="0 0 24 6" preserveAspectRatio="none" aria-hidden="true">
                        <line x1="0" y1="3" x2="24" y2="3" stroke=p.color stroke-width=SWATCH_WIDTH
                            stroke-dasharray=svg_dasharray(p.dash)/>
                    </svg>
                    {move || kind_label(p.kind, dash.lang.get())}
                </li>
            }
        })
        .collect_view();
    view! {
        <details class="map-legend" open>
            <summary>{move || t().legend}</summary>
            <ul class="legend-layers">
                <li data-layer="buildings"><span class="swatch swatch-building"></span>{move || t().legend_buildings}</li>
                <li data-layer="roads"><span class="swatch swatch-road"></span>{move || t().legend_roads}</li>
                <li data-layer="pois"><span class="swatch swatch-poi"></span>{move || t().legend_pois}</li>
                <li data-layer="community"><span class="swatch swatch-community"></span>{move || t().legend_community}</li>
                <li data-layer="grid"><span class="swatch swatch-grid"></span>{move || t().legend_grid}</li>
            </ul>
            <p class="legend-heading">{move || t().legend_pipelines}</p>
            <ul class="legend-pipelines">{pipelines}</ul>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP_JS: &str = include_str!("map.js");

    #[test]
    fn the_legend_draws_pipelines_as_the_map_does() {
        for p in &PIPELINES {
            let color = format!("[\"{}\", \"{}\"]", p.kind, p.color);
            assert!(
                MAP_JS.contains(&color),
                "map.js PIPELINE_COLORS has {color}"
            );
            let numbers = p
                .dash
                .iter()
                .map(|d| format!("{d}"))
                .collect::<Vec<_>>()
                .join(", ");
            let dash = format!("[\"{}\", [{numbers}]]", p.kind);
            assert!(MAP_JS.contains(&dash), "map.js PIPELINE_DASHES has {dash}");
        }
    }

    #[test]
    fn solid_lines_have_no_dasharray() {
        assert_eq!(svg_dasharray(&[1.0, 0.0]), None);
        assert_eq!(svg_dasharray(&[4.0, 2.0]).as_deref(), Some("12 6"));
        assert_eq!(
            svg_dasharray(&[4.0, 1.5, 1.0, 1.5]).as_deref(),
            Some("12 4.5 3 4.5")
        );
    }
}
