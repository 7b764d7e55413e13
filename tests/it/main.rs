//! Black-box system tests: each test starts its own server on port 0 with its own SQLite file
//! and talks to it over HTTP, WebSocket, or through a real headless Chromium.

mod accounts;
mod api;
mod browser;
mod hostile;
mod live;
mod openapi;
mod osm;
mod own_district;
mod reload;
mod scope;
mod seams;
mod security;
mod spatial;
