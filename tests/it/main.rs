//! Black-box system tests: each test starts its own server on port 0 with its own store (SQLite,
//! or PostgreSQL with `ONEGRID_TEST_DATABASE_URL`)
//! and talks to it over HTTP, WebSocket, or through a real headless Chromium.

mod accounts;
mod api;
mod browser;
mod cases;
mod deadlines;
mod hostile;
mod live;
mod migrate;
mod openapi;
mod osm;
mod own_district;
mod queue;
mod reload;
mod replicas;
mod scope;
mod seams;
mod security;
mod spatial;
