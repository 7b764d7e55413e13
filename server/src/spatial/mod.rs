//! The spatial engine: in-memory R-trees answering "whose area is this" (and, as layers grow,
//! "what is near here"). Coordinates are WGS84 lon/lat in degrees; distances are metres.
//!
//! No IO, no async, no SQL: it is built from values the store loaded and is a cache of the
//! store, never a second source of truth.

mod jurisdiction;

pub use jurisdiction::{JurisdictionIndex, Located};

/// A WGS84 position that has been checked once, at the edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    lon: f64,
    lat: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum CoordError {
    #[error("latitude must be a number between -90 and 90")]
    Latitude,
    #[error("longitude must be a number between -180 and 180")]
    Longitude,
}

impl LonLat {
    pub fn parse(lon: f64, lat: f64) -> Result<LonLat, CoordError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(CoordError::Latitude);
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(CoordError::Longitude);
        }
        Ok(LonLat { lon, lat })
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn point(self) -> geo::Point<f64> {
        geo::Point::new(self.lon, self.lat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_out_of_range_or_not_finite_are_rejected() {
        assert!(LonLat::parse(113.1, 23.0).is_ok());
        assert_eq!(LonLat::parse(113.1, 90.5), Err(CoordError::Latitude));
        assert_eq!(LonLat::parse(180.1, 23.0), Err(CoordError::Longitude));
        assert_eq!(LonLat::parse(f64::NAN, 23.0), Err(CoordError::Longitude));
        assert_eq!(LonLat::parse(113.0, f64::INFINITY), Err(CoordError::Latitude));
    }
}
