//! Metres around a point: a local tangent-plane projection on the WGS84 ellipsoid.
//!
//! Near a reference latitude φ₀ one degree of latitude is M(φ₀)·π/180 metres and one degree of
//! longitude N(φ₀)·cos φ₀·π/180 metres (M, N the meridian and prime-vertical radii of
//! curvature). Over a few kilometres the error of this flat approximation stays far below 0.1 %,
//! which is what "what is near here" needs, at the cost of two multiplications per vertex.

use geo::Coord;

const A: f64 = 6_378_137.0; // WGS84 semi-major axis, metres
const E2: f64 = 6.694_379_990_141_316e-3; // WGS84 first eccentricity squared

/// Projection of lon/lat degrees to metres east/north of an origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalMetric {
    origin: Coord<f64>,
    /// Metres per degree of longitude at the origin's latitude.
    pub m_per_deg_lon: f64,
    /// Metres per degree of latitude at the origin's latitude.
    pub m_per_deg_lat: f64,
}

impl LocalMetric {
    pub fn at(origin: Coord<f64>) -> LocalMetric {
        let phi = origin.y.to_radians();
        let s2 = phi.sin().powi(2);
        let w = (1.0 - E2 * s2).sqrt();
        let n = A / w; // prime vertical radius
        let m = A * (1.0 - E2) / (w * w * w); // meridian radius
        LocalMetric {
            origin,
            m_per_deg_lon: n * phi.cos() * std::f64::consts::PI / 180.0,
            m_per_deg_lat: m * std::f64::consts::PI / 180.0,
        }
    }

    /// The point distances are measured from.
    pub fn origin(&self) -> Coord<f64> {
        self.origin
    }

    /// Metres east and north of the origin.
    #[inline]
    pub fn to_metres(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.origin.x) * self.m_per_deg_lon,
            y: (c.y - self.origin.y) * self.m_per_deg_lat,
        }
    }

    /// Back to lon/lat degrees.
    #[inline]
    pub fn to_degrees(&self, m: Coord<f64>) -> Coord<f64> {
        Coord {
            x: self.origin.x + m.x / self.m_per_deg_lon,
            y: self.origin.y + m.y / self.m_per_deg_lat,
        }
    }

    /// Half-sizes in degrees (lon, lat) of a box that holds a circle of `radius_m` metres.
    pub fn degrees_for(&self, radius_m: f64) -> (f64, f64) {
        (radius_m / self.m_per_deg_lon, radius_m / self.m_per_deg_lat)
    }
}

/// The point on segment `a`–`b` nearest to the origin (all in local metres).
#[inline]
pub fn nearest_on_segment(a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
    let d = b - a;
    // Projection of the origin on the line, as a fraction `along / len2` of the segment; the
    // division is needed only when it falls strictly inside.
    let along = -(a.x * d.x + a.y * d.y);
    if along <= 0.0 {
        return a;
    }
    let len2 = d.x * d.x + d.y * d.y;
    if along >= len2 {
        return b;
    }
    let t = along / len2;
    Coord {
        x: a.x + t * d.x,
        y: a.y + t * d.y,
    }
}

#[inline]
pub fn norm(c: Coord<f64>) -> f64 {
    c.x.hypot(c.y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Geodesic, Point};

    #[test]
    fn local_distances_match_geodesic_ones_within_a_tenth_of_a_percent() {
        let origin = Coord {
            x: 113.11,
            y: 23.02,
        };
        let m = LocalMetric::at(origin);
        for (dx, dy) in [(0.01, 0.0), (0.0, 0.01), (0.02, -0.015), (-0.004, 0.0007)] {
            let p = Coord {
                x: origin.x + dx,
                y: origin.y + dy,
            };
            let local = norm(m.to_metres(p));
            let exact = Geodesic.distance(Point::from(origin), Point::from(p));
            assert!((local - exact).abs() / exact < 1e-3, "{local} vs {exact}");
        }
        let back = m.to_degrees(m.to_metres(Coord { x: 113.2, y: 23.1 }));
        assert!((back.x - 113.2).abs() < 1e-12 && (back.y - 23.1).abs() < 1e-12);
    }

    #[test]
    fn nearest_point_on_a_segment_is_clamped_to_its_ends() {
        let a = Coord { x: -5.0, y: 3.0 };
        let b = Coord { x: 5.0, y: 3.0 };
        assert_eq!(nearest_on_segment(a, b), Coord { x: 0.0, y: 3.0 });
        let c = Coord { x: 2.0, y: 1.0 };
        let d = Coord { x: 6.0, y: 1.0 };
        assert_eq!(nearest_on_segment(c, d), c);
    }
}
