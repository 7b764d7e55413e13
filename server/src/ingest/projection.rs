//! Map projections whose inverse turns projected coordinates (metres) back into lon/lat degrees:
//! Web Mercator (EPSG:3857) and transverse Mercator (Gauss–Krüger, UTM) on any ellipsoid, plus
//! the EPSG codes `--crs` accepts ([`epsg`]).
//!
//! Transverse Mercator uses Krüger's series in the third flattening n to order n⁶ (Karney 2011,
//! "Transverse Mercator with an accuracy of a few nanometers"), accurate to well under a
//! millimetre within a few thousand kilometres of the central meridian. Nothing here knows about
//! files or datums: the caller decides which datum the resulting lon/lat are on.

use std::f64::consts::FRAC_PI_2;

/// GRS80, the ellipsoid of CGCS2000: semi-major axis in metres and inverse flattening.
pub const GRS80: (f64, f64) = (6_378_137.0, 298.257_222_101);
/// The WGS84 ellipsoid.
pub const WGS84: (f64, f64) = (6_378_137.0, 298.257_223_563);
/// Radius of the sphere Web Mercator projects onto, in metres.
const WEB_MERCATOR_RADIUS_M: f64 = 6_378_137.0;
/// Newton steps solving for the latitude stop below this change in tan φ.
const TAU_TOLERANCE: f64 = 1e-14;

/// A projection from lon/lat to plane coordinates in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Projection {
    /// Spherical Mercator on a sphere of radius 6378137 m; false easting/northing in metres and
    /// the central meridian in degrees (all 0 for EPSG:3857).
    WebMercator {
        central_meridian_deg: f64,
        false_easting_m: f64,
        false_northing_m: f64,
    },
    TransverseMercator(TransverseMercator),
}

impl Projection {
    pub const WEB_MERCATOR: Projection = Projection::WebMercator {
        central_meridian_deg: 0.0,
        false_easting_m: 0.0,
        false_northing_m: 0.0,
    };

    /// Projected (x, y) in metres → (lon, lat) in degrees.
    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        match self {
            Projection::WebMercator {
                central_meridian_deg,
                false_easting_m,
                false_northing_m,
            } => {
                let lon = ((x - false_easting_m) / WEB_MERCATOR_RADIUS_M).to_degrees();
                let lat = (((y - false_northing_m) / WEB_MERCATOR_RADIUS_M).sinh())
                    .atan()
                    .to_degrees();
                (lon + central_meridian_deg, lat)
            }
            Projection::TransverseMercator(tm) => tm.inverse(x, y),
        }
    }

    /// (lon, lat) in degrees → projected (x, y) in metres.
    pub fn forward(&self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Projection::WebMercator {
                central_meridian_deg,
                false_easting_m,
                false_northing_m,
            } => {
                let x = (lon - central_meridian_deg).to_radians() * WEB_MERCATOR_RADIUS_M;
                let y = lat.to_radians().tan().asinh() * WEB_MERCATOR_RADIUS_M;
                (x + false_easting_m, y + false_northing_m)
            }
            Projection::TransverseMercator(tm) => tm.forward(lon, lat),
        }
    }
}

/// Transverse Mercator parameters as a `.prj` or an EPSG definition gives them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransverseMercator {
    pub semi_major_m: f64,
    pub inverse_flattening: f64,
    pub central_meridian_deg: f64,
    pub latitude_of_origin_deg: f64,
    pub scale_factor: f64,
    pub false_easting_m: f64,
    pub false_northing_m: f64,
}

/// Constants derived from the ellipsoid.
struct Series {
    /// First eccentricity.
    e: f64,
    /// Rectifying radius A times the scale factor, metres.
    k0_a: f64,
    alpha: [f64; 6],
    beta: [f64; 6],
}

impl TransverseMercator {
    /// A Gauss–Krüger or UTM zone: scale `k0`, central meridian `cm_deg`, false easting metres.
    pub fn zone(ellipsoid: (f64, f64), cm_deg: f64, k0: f64, fe_m: f64, fn_m: f64) -> Self {
        TransverseMercator {
            semi_major_m: ellipsoid.0,
            inverse_flattening: ellipsoid.1,
            central_meridian_deg: cm_deg,
            latitude_of_origin_deg: 0.0,
            scale_factor: k0,
            false_easting_m: fe_m,
            false_northing_m: fn_m,
        }
    }

    fn series(&self) -> Series {
        let f = 1.0 / self.inverse_flattening;
        let n = f / (2.0 - f);
        let (n2, n3) = (n * n, n * n * n);
        let (n4, n5, n6) = (n3 * n, n3 * n2, n3 * n3);
        let a = self.semi_major_m / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0 + n6 / 256.0);
        let alpha = [
            n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0 + 41.0 * n4 / 180.0 - 127.0 * n5 / 288.0
                + 7891.0 * n6 / 37800.0,
            13.0 * n2 / 48.0 - 3.0 * n3 / 5.0 + 557.0 * n4 / 1440.0 + 281.0 * n5 / 630.0
                - 1983433.0 * n6 / 1935360.0,
            61.0 * n3 / 240.0 - 103.0 * n4 / 140.0
                + 15061.0 * n5 / 26880.0
                + 167603.0 * n6 / 181440.0,
            49561.0 * n4 / 161280.0 - 179.0 * n5 / 168.0 + 6601661.0 * n6 / 7257600.0,
            34729.0 * n5 / 80640.0 - 3418889.0 * n6 / 1995840.0,
            212378941.0 * n6 / 319334400.0,
        ];
        let beta = [
            n / 2.0 - 2.0 * n2 / 3.0 + 37.0 * n3 / 96.0 - n4 / 360.0 - 81.0 * n5 / 512.0
                + 96199.0 * n6 / 604800.0,
            n2 / 48.0 + n3 / 15.0 - 437.0 * n4 / 1440.0 + 46.0 * n5 / 105.0
                - 1118711.0 * n6 / 3870720.0,
            17.0 * n3 / 480.0 - 37.0 * n4 / 840.0 - 209.0 * n5 / 4480.0 + 5569.0 * n6 / 90720.0,
            4397.0 * n4 / 161280.0 - 11.0 * n5 / 504.0 - 830251.0 * n6 / 7257600.0,
            4583.0 * n5 / 161280.0 - 108847.0 * n6 / 3991680.0,
            20648693.0 * n6 / 638668800.0,
        ];
        Series {
            e: (f * (2.0 - f)).sqrt(),
            k0_a: self.scale_factor * a,
            alpha,
            beta,
        }
    }

    /// (ξ, η) on the unit-free Gauss–Krüger plane of (lon offset λ, lat φ), radians.
    fn xi_eta(s: &Series, lambda: f64, phi: f64) -> (f64, f64) {
        let tau = phi.tan();
        let tau_p = conformal_tau(tau, s.e);
        let xi_p = tau_p.atan2(lambda.cos());
        let eta_p = (lambda.sin() / tau_p.hypot(lambda.cos())).asinh();
        let (mut xi, mut eta) = (xi_p, eta_p);
        for (j, a) in s.alpha.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xi += a * (k * xi_p).sin() * (k * eta_p).cosh();
            eta += a * (k * xi_p).cos() * (k * eta_p).sinh();
        }
        (xi, eta)
    }

    /// (lon, lat) degrees → (x easting, y northing) metres.
    pub fn forward(&self, lon: f64, lat: f64) -> (f64, f64) {
        let s = self.series();
        let lambda = (lon - self.central_meridian_deg).to_radians();
        let (xi, eta) = Self::xi_eta(&s, lambda, lat.to_radians());
        let (xi0, _) = Self::xi_eta(&s, 0.0, self.latitude_of_origin_deg.to_radians());
        (
            self.false_easting_m + s.k0_a * eta,
            self.false_northing_m + s.k0_a * (xi - xi0),
        )
    }

    /// (x easting, y northing) metres → (lon, lat) degrees.
    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let s = self.series();
        let (xi0, _) = Self::xi_eta(&s, 0.0, self.latitude_of_origin_deg.to_radians());
        let xi = (y - self.false_northing_m) / s.k0_a + xi0;
        let eta = (x - self.false_easting_m) / s.k0_a;
        let (mut xi_p, mut eta_p) = (xi, eta);
        for (j, b) in s.beta.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xi_p -= b * (k * xi).sin() * (k * eta).cosh();
            eta_p -= b * (k * xi).cos() * (k * eta).sinh();
        }
        let tau_p = xi_p.sin() / eta_p.sinh().hypot(xi_p.cos());
        let lambda = eta_p.sinh().atan2(xi_p.cos());
        // Newton's method for tan φ from the conformal tan φ' (Karney 2011, eqs. 19–21).
        let e2 = s.e * s.e;
        let mut tau = tau_p;
        for _ in 0..20 {
            let tau_i = conformal_tau(tau, s.e);
            let step = (tau_p - tau_i) / tau_i.hypot(1.0) * (1.0 + (1.0 - e2) * tau * tau)
                / ((1.0 - e2) * tau.hypot(1.0));
            tau += step;
            if !step.is_finite() || step.abs() <= TAU_TOLERANCE * tau.abs().max(1.0) {
                break;
            }
        }
        let lat = if tau_p.is_infinite() {
            FRAC_PI_2.copysign(tau_p)
        } else {
            tau.atan()
        };
        (
            self.central_meridian_deg + lambda.to_degrees(),
            lat.to_degrees(),
        )
    }
}

/// tan of the conformal latitude for tan φ = `tau` on an ellipsoid of eccentricity `e`.
fn conformal_tau(tau: f64, e: f64) -> f64 {
    let sigma = (e * (e * tau / tau.hypot(1.0)).atanh()).sinh();
    tau * sigma.hypot(1.0) - sigma * tau.hypot(1.0)
}

/// What an EPSG code `--crs` accepts stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EpsgCrs {
    /// Lon/lat degrees on WGS84 (4326) or CGCS2000 (4490, treated as WGS84).
    Geographic,
    Projected(Projection),
}

/// The EPSG codes `--crs epsg:…` accepts:
/// - 4326 (WGS84) and 4490 (CGCS2000) lon/lat;
/// - 3857 (also 900913, 102100) Web Mercator;
/// - 4491–4501: CGCS2000 6-degree Gauss–Krüger zones 13–23 (false easting with the zone prefix,
///   e.g. 19 500 000 m); 4502–4512: 6-degree zones labelled by central meridian 75°E–135°E
///   (false easting 500 000 m);
/// - 4513–4533: CGCS2000 3-degree Gauss–Krüger zones 25–45 (central meridian 3·zone, false
///   easting with the zone prefix, e.g. zone 38: 38 500 000 m); 4534–4554: 3-degree zones
///   labelled by central meridian 75°E–135°E (false easting 500 000 m; 4547 is CM 114°E);
/// - 32601–32660 WGS 84 / UTM zones 1N–60N, 32701–32760 zones 1S–60S.
pub fn epsg(code: u32) -> Option<EpsgCrs> {
    let tm = |cm: u32, fe: u32| {
        EpsgCrs::Projected(Projection::TransverseMercator(TransverseMercator::zone(
            GRS80,
            f64::from(cm),
            1.0,
            f64::from(fe),
            0.0,
        )))
    };
    let utm = |zone: u32, fn_m: f64| {
        let cm = f64::from(zone) * 6.0 - 183.0;
        EpsgCrs::Projected(Projection::TransverseMercator(TransverseMercator::zone(
            WGS84, cm, 0.9996, 500_000.0, fn_m,
        )))
    };
    Some(match code {
        4326 | 4490 => EpsgCrs::Geographic,
        3857 | 900913 | 102100 => EpsgCrs::Projected(Projection::WEB_MERCATOR),
        4491..=4501 => {
            let zone = code - 4491 + 13;
            tm(zone * 6 - 3, zone * 1_000_000 + 500_000)
        }
        4502..=4512 => tm(75 + (code - 4502) * 6, 500_000),
        4513..=4533 => {
            let zone = code - 4513 + 25;
            tm(zone * 3, zone * 1_000_000 + 500_000)
        }
        4534..=4554 => tm(75 + (code - 4534) * 3, 500_000),
        32601..=32660 => utm(code - 32600, 0.0),
        32701..=32760 => utm(code - 32700, 10_000_000.0),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gk(code: u32) -> TransverseMercator {
        match epsg(code) {
            Some(EpsgCrs::Projected(Projection::TransverseMercator(tm))) => tm,
            other => panic!("{code}: {other:?}"),
        }
    }

    #[test]
    fn epsg_table_names_the_right_zones() {
        let cm114 = gk(4547);
        assert_eq!(cm114.central_meridian_deg, 114.0);
        assert_eq!(cm114.false_easting_m, 500_000.0);
        let zone38 = gk(4526);
        assert_eq!(zone38.central_meridian_deg, 114.0);
        assert_eq!(zone38.false_easting_m, 38_500_000.0);
        let zone19 = gk(4497);
        assert_eq!(zone19.central_meridian_deg, 111.0);
        assert_eq!(zone19.false_easting_m, 19_500_000.0);
        assert_eq!(gk(4508).central_meridian_deg, 111.0);
        assert_eq!(gk(4554).central_meridian_deg, 135.0);
        let utm49 = gk(32649);
        assert_eq!(utm49.central_meridian_deg, 111.0);
        assert_eq!(utm49.scale_factor, 0.9996);
        assert_eq!(epsg(4490), Some(EpsgCrs::Geographic));
        assert_eq!(epsg(4555), None);
        assert_eq!(epsg(32661), None);
    }

    #[test]
    fn transverse_mercator_round_trips_to_a_micrometre() {
        for code in [4547, 4526, 32649, 4497] {
            let tm = gk(code);
            for (lon, lat) in [(113.1, 23.0), (114.0, 0.0), (111.7, 45.5), (116.9, -30.0)] {
                let (x, y) = tm.forward(lon, lat);
                let (lon2, lat2) = tm.inverse(x, y);
                let (x2, y2) = tm.forward(lon2, lat2);
                assert!(
                    (x - x2).abs() < 1e-6 && (y - y2).abs() < 1e-6,
                    "{code} {lon} {lat}"
                );
                assert!((lon - lon2).abs() < 1e-11 && (lat - lat2).abs() < 1e-11);
            }
        }
        // Central meridian, origin latitude: the false origin.
        let (x, y) = gk(4547).forward(114.0, 0.0);
        assert!((x - 500_000.0).abs() < 1e-9 && y.abs() < 1e-9);
    }

    #[test]
    fn web_mercator_round_trips() {
        let p = Projection::WEB_MERCATOR;
        let (x, y) = p.forward(113.1, 23.0);
        assert!((x - 12_590_234.408_7).abs() < 1e-3, "{x}");
        let (lon, lat) = p.inverse(x, y);
        assert!((lon - 113.1).abs() < 1e-12 && (lat - 23.0).abs() < 1e-12);
    }
}
