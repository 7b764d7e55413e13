//! The coordinate systems imported data comes in: WGS84, and the two obfuscated systems used by
//! Chinese map providers, GCJ-02 ("Mars coordinates", AMap/Tencent/Google China) and BD-09
//! (Baidu). Everything the platform stores is WGS84.
//!
//! GCJ-02 is the published forward transform (Krasovsky 1940 ellipsoid, applied only inside a
//! rough bounding box of China); there is no closed-form inverse, so [`gcj02_to_wgs84`] inverts it
//! by fixed-point iteration to better than 1e-9 degrees. BD-09 is a further, closed-form offset
//! on top of GCJ-02; its standard inverse formula is refined the same way.

use std::f64::consts::PI;
use std::fmt;

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by GCJ-02.
const KRASOVSKY_A: f64 = 6378245.0;
/// Its first eccentricity squared.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
/// Baidu's angle factor: π · 3000 / 180.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// The inversion stops when a step moves the estimate by less than this many degrees.
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;
/// The iteration converges in 3–5 steps; this only bounds a pathological input.
const INVERSE_MAX_STEPS: usize = 50;

/// A coordinate reference system imported coordinates (lon, lat in degrees) may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Crs {
    /// WGS84 (EPSG:4326), what GPS and OpenStreetMap use and what the platform stores.
    #[default]
    Wgs84,
    /// GCJ-02, the offset system mandated for maps published in China.
    Gcj02,
    /// BD-09, Baidu's further offset on top of GCJ-02.
    Bd09,
}

impl Crs {
    pub const ALL: [Crs; 3] = [Crs::Wgs84, Crs::Gcj02, Crs::Bd09];

    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }

    /// `wgs84`, `gcj02` or `bd09` (case-insensitive; `-`/`_` ignored, so `GCJ-02` works, and
    /// `epsg:4326` means WGS84).
    pub fn parse(s: &str) -> Option<Crs> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_ascii_lowercase();
        match norm.as_str() {
            "wgs84" | "epsg:4326" | "4326" => Some(Crs::Wgs84),
            "gcj02" => Some(Crs::Gcj02),
            "bd09" | "bd09ll" => Some(Crs::Bd09),
            _ => None,
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coordinate system `--crs` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrsChoice {
    /// `wgs84`, `gcj02`, `bd09`: the datum of the coordinates. For a shapefile whose `.prj`
    /// names a projection this supplies only the datum (the projection is still inverted, then
    /// the GCJ-02/BD-09 offset removed); otherwise the coordinates are lon/lat degrees.
    Datum(Crs),
    /// `epsg:CODE`, one [`epsg`](super::projection::epsg) knows: the whole CRS, replacing a
    /// shapefile's `.prj`.
    Epsg(u32),
}

impl CrsChoice {
    /// `wgs84`, `gcj02`, `bd09` (as [`Crs::parse`]) or `epsg:CODE` (also `EPSG:CODE`) for a
    /// code [`epsg`](super::projection::epsg) knows.
    pub fn parse(s: &str) -> Option<CrsChoice> {
        let t = s.trim().to_ascii_lowercase();
        if let Some(code) = t.strip_prefix("epsg:").or_else(|| t.strip_prefix("epsg")) {
            let code: u32 = code.trim().parse().ok()?;
            return super::projection::epsg(code).map(|_| CrsChoice::Epsg(code));
        }
        Crs::parse(s).map(CrsChoice::Datum)
    }

    /// The lon/lat datum offset, when this names lon/lat coordinates rather than a projection:
    /// `None` for a projected EPSG code.
    pub fn geographic(self) -> Option<Crs> {
        match self {
            CrsChoice::Datum(c) => Some(c),
            CrsChoice::Epsg(code) => match super::projection::epsg(code) {
                Some(super::projection::EpsgCrs::Geographic) => Some(Crs::Wgs84),
                _ => None,
            },
        }
    }
}

impl fmt::Display for CrsChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrsChoice::Datum(c) => write!(f, "{c}"),
            CrsChoice::Epsg(code) => write!(f, "epsg:{code}"),
        }
    }
}

/// Converts (lon, lat) in `crs` to WGS84 (lon, lat).
pub fn to_wgs84(crs: Crs, lon: f64, lat: f64) -> (f64, f64) {
    match crs {
        Crs::Wgs84 => (lon, lat),
        Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
        Crs::Bd09 => {
            let (lon, lat) = bd09_to_gcj02(lon, lat);
            gcj02_to_wgs84(lon, lat)
        }
    }
}

/// Whether GCJ-02 applies at (lon, lat): the published transform leaves points outside this box
/// unchanged.
pub fn in_china_box(lon: f64, lat: f64) -> bool {
    (72.004..=137.8347).contains(&lon) && (0.8293..=55.8271).contains(&lat)
}

/// The published GCJ-02 forward transform: WGS84 (lon, lat) → GCJ-02 (lon, lat).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !in_china_box(lon, lat) {
        return (lon, lat);
    }
    let (d_lon, d_lat) = gcj_offset(lon, lat);
    (lon + d_lon, lat + d_lat)
}

/// GCJ-02 (lon, lat) → WGS84 (lon, lat), inverting [`wgs84_to_gcj02`] by fixed-point iteration:
/// `wgs ← gcj − offset(wgs)` until a step is below 1e-9°. Points outside the China box are
/// returned unchanged, as the forward transform does.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if !in_china_box(lon, lat) || !lon.is_finite() || !lat.is_finite() {
        return (lon, lat);
    }
    let (mut w_lon, mut w_lat) = (lon, lat);
    for _ in 0..INVERSE_MAX_STEPS {
        let (d_lon, d_lat) = gcj_offset(w_lon, w_lat);
        let (n_lon, n_lat) = (lon - d_lon, lat - d_lat);
        let step = (n_lon - w_lon).abs().max((n_lat - w_lat).abs());
        w_lon = n_lon;
        w_lat = n_lat;
        if step < INVERSE_TOLERANCE_DEG {
            break;
        }
    }
    (w_lon, w_lat)
}

/// GCJ-02 (lon, lat) → BD-09 (lon, lat), Baidu's published formula.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// BD-09 (lon, lat) → GCJ-02 (lon, lat): the standard inverse formula, which is only good to
/// about 1.5e-6° (15 cm), refined by fixed-point steps against [`gcj02_to_bd09`] until a step is
/// below 1e-9°.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !lon.is_finite() || !lat.is_finite() {
        return (lon, lat);
    }
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    let (mut g_lon, mut g_lat) = (z * theta.cos(), z * theta.sin());
    for _ in 0..INVERSE_MAX_STEPS {
        let (b_lon, b_lat) = gcj02_to_bd09(g_lon, g_lat);
        let (d_lon, d_lat) = (b_lon - lon, b_lat - lat);
        g_lon -= d_lon;
        g_lat -= d_lat;
        if d_lon.abs().max(d_lat.abs()) < INVERSE_TOLERANCE_DEG {
            break;
        }
    }
    (g_lon, g_lat)
}

/// The GCJ-02 offset (Δlon, Δlat) in degrees at WGS84 (lon, lat), without the China-box test.
fn gcj_offset(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 105.0;
    let y = lat - 35.0;
    let common = (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    let mut d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    d_lat += common;
    d_lat += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    d_lat += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let mut d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    d_lon += common;
    d_lon += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    d_lon += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;

    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let d_lat =
        (d_lat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (d_lon, d_lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64), tol: f64) -> bool {
        (a.0 - b.0).abs() <= tol && (a.1 - b.1).abs() <= tol
    }

    /// Metres between two WGS84 points (equirectangular; fine for the sub-kilometre gaps here).
    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let lat = ((a.1 + b.1) / 2.0).to_radians();
        let dx = (a.0 - b.0).to_radians() * lat.cos() * 6_371_000.0;
        let dy = (a.1 - b.1).to_radians() * 6_371_000.0;
        dx.hypot(dy)
    }

    /// (WGS84 lon, lat) → (GCJ-02 lon, lat) pairs from the eviltransform project's Go test suite
    /// (github.com/googollee/eviltransform, go/transform_test.go: Shanghai, Shenzhen, Beijing),
    /// which compares them to 5 decimals.
    const EVILTRANSFORM_PAIRS: [((f64, f64), (f64, f64)); 3] = [
        (
            (121.5272106, 31.1774276),
            (121.531541859215, 31.17530398364597),
        ),
        (
            (113.912316, 22.543847),
            (113.9171764808363, 22.540796131694766),
        ),
        (
            (116.377817, 39.911954),
            (116.38404722455657, 39.91334545536069),
        ),
    ];

    #[test]
    fn forward_gcj02_matches_published_pairs() {
        for (wgs, gcj) in EVILTRANSFORM_PAIRS {
            let got = wgs84_to_gcj02(wgs.0, wgs.1);
            assert!(
                close(got, gcj, 1e-9),
                "{wgs:?} → {got:?}, published {gcj:?}"
            );
        }
        // gcoord (github.com/hujiulong/gcoord, test/unit/crs/WGS84.spec.ts): WGS84 (123, 45) →
        // GCJ-02 (123.00607541, 45.00197815), checked there to 5 decimals.
        assert!(close(
            wgs84_to_gcj02(123.0, 45.0),
            (123.00607541, 45.00197815),
            5e-6
        ));
    }

    #[test]
    fn inverse_gcj02_matches_published_pairs() {
        for (wgs, gcj) in EVILTRANSFORM_PAIRS {
            let got = gcj02_to_wgs84(gcj.0, gcj.1);
            // eviltransform's own "exact" inverse promises < 0.5 m; ours iterates to 1e-9°.
            assert!(metres(got, wgs) < 0.01, "{gcj:?} → {got:?}, want {wgs:?}");
        }
        // gcoord, test/unit/crs/GCJ02.spec.ts: GCJ-02 (123, 45) → WGS84 (122.99395597, 44.99804071).
        assert!(close(
            to_wgs84(Crs::Gcj02, 123.0, 45.0),
            (122.99395597, 44.99804071),
            5e-6
        ));
    }

    #[test]
    fn bd09_matches_published_values() {
        // gcoord, test/unit/crs/BD09.spec.ts and GCJ02.spec.ts.
        assert!(close(
            bd09_to_gcj02(123.0, 45.0),
            (122.99363304, 44.99365430),
            5e-6
        ));
        assert!(close(
            to_wgs84(Crs::Bd09, 123.0, 45.0),
            (122.98762210, 44.99171540),
            5e-6
        ));
        assert!(close(
            gcj02_to_bd09(123.0, 45.0),
            (123.00636499, 45.00636899),
            5e-6
        ));
    }

    #[test]
    fn round_trips_within_1e7_degrees() {
        // A grid over mainland China plus the published points.
        let mut points: Vec<(f64, f64)> = EVILTRANSFORM_PAIRS.iter().map(|p| p.0).collect();
        for i in 0..=12 {
            for j in 0..=10 {
                points.push((74.0 + 5.2 * i as f64, 4.0 + 5.0 * j as f64));
            }
        }
        for (lon, lat) in points {
            let (g_lon, g_lat) = wgs84_to_gcj02(lon, lat);
            let back = gcj02_to_wgs84(g_lon, g_lat);
            assert!(close(back, (lon, lat), 1e-7), "{lon},{lat} → {back:?}");
            let (b_lon, b_lat) = gcj02_to_bd09(g_lon, g_lat);
            let back = to_wgs84(Crs::Bd09, b_lon, b_lat);
            assert!(close(back, (lon, lat), 1e-7), "bd09 {lon},{lat} → {back:?}");
        }
    }

    #[test]
    fn outside_china_is_unchanged() {
        for (lon, lat) in [
            (9.52, 47.14),    // Vaduz
            (-73.97, 40.78),  // New York
            (183.0, 45.0),    // gcoord's "not in China" case
            (139.69, 35.69),  // Tokyo, east of the box
            (100.5, 0.5),     // south of the box
            (f64::NAN, 30.0), // garbage passes through for the validator to reject
        ] {
            let (g_lon, g_lat) = wgs84_to_gcj02(lon, lat);
            assert!(g_lon.to_bits() == lon.to_bits() && g_lat == lat || lon.is_nan());
            let (w_lon, w_lat) = to_wgs84(Crs::Gcj02, lon, lat);
            assert!(w_lon.to_bits() == lon.to_bits() && w_lat == lat || lon.is_nan());
        }
        assert_eq!(to_wgs84(Crs::Wgs84, 113.1, 23.0), (113.1, 23.0));
    }

    #[test]
    fn parses_names() {
        assert_eq!(Crs::parse("wgs84"), Some(Crs::Wgs84));
        assert_eq!(Crs::parse("GCJ-02"), Some(Crs::Gcj02));
        assert_eq!(Crs::parse("bd09"), Some(Crs::Bd09));
        assert_eq!(Crs::parse("EPSG:4326"), Some(Crs::Wgs84));
        assert_eq!(Crs::parse("utm50n"), None);
        assert_eq!(CrsChoice::parse("EPSG:4547"), Some(CrsChoice::Epsg(4547)));
        assert_eq!(CrsChoice::parse("epsg:32649"), Some(CrsChoice::Epsg(32649)));
        assert_eq!(
            CrsChoice::parse("gcj02"),
            Some(CrsChoice::Datum(Crs::Gcj02))
        );
        assert_eq!(CrsChoice::parse("epsg:2385"), None);
        assert_eq!(CrsChoice::Epsg(4490).geographic(), Some(Crs::Wgs84));
        assert_eq!(CrsChoice::Epsg(3857).geographic(), None);
        for crs in Crs::ALL {
            assert_eq!(Crs::parse(crs.as_str()), Some(crs));
        }
    }
}
