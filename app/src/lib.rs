//! onegrid's UI (Leptos, server-rendered and hydrated) and the wire types shared with the
//! server. Server-only code sits behind the `ssr` feature, browser-only code behind `hydrate`;
//! sqlx, tokio and rstar never enter the wasm build.

#![recursion_limit = "256"]

pub mod api;
pub mod dashboard;
pub mod i18n;
pub mod legend;
pub mod login;
pub mod wire;

#[cfg(feature = "hydrate")]
mod client;
#[cfg(feature = "hydrate")]
mod map;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app (rendered on the server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="zh-CN">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark"/>
                <link rel="stylesheet" href="/assets/vendor/maplibre-gl/maplibre-gl.css"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="onegrid" href="/pkg/onegrid.css"/>
        <Title text="onegrid · 禅城区城市运行指挥中心"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"404 · 页面不存在 / page not found"</p> }>
                <Route path=path!("") view=dashboard::Dashboard/>
                <Route path=path!("login") view=login::Login/>
            </Routes>
        </Router>
    }
}

/// Entry point of the wasm build: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
