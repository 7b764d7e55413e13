//! Dividing one polygon into unit grid cells: a square lattice of the target cell area over the
//! polygon, its vertices pulled onto nearby main roads (so cell edges run along them where they
//! can), each cell clipped to the polygon, and slivers at the edge merged into a neighbour.
//!
//! The cells tile the polygon: neighbouring cells share their lattice vertices exactly, and
//! clipping a tiling to a polygon tiles the polygon. All geometry is done in local metres
//! around the polygon and converted back to lon/lat degrees at the end.

use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Contains, Coord, LineString, MapCoords, MultiPolygon,
    Polygon,
};
use rstar::primitives::{GeomWithData, Line};
use rstar::{RTree, AABB};

use crate::spatial::metric::{nearest_on_segment, LocalMetric};

/// Cells smaller than this share of the target area are merged into a neighbour.
const SLIVER_SHARE: f64 = 0.3;
/// How far a lattice vertex may move onto a road, as a share of the cell side. Below one half,
/// so no cell can fold over (each vertex stays in its own quarter of the cells around it).
const SNAP_SHARE: f64 = 0.25;

/// Road centrelines a lattice may follow, in lon/lat degrees.
pub struct RoadLines(pub Vec<[Coord<f64>; 2]>);

/// The cells of one polygon, in lon/lat degrees, north-west first (rows north to south, each
/// west to east), with the cell side used in metres and how many lattice vertices were moved
/// onto a road.
pub struct Division {
    pub cells: Vec<MultiPolygon<f64>>,
    pub side_m: f64,
    pub snapped: usize,
}

/// Divides `area` (lon/lat) into cells of about `cell_area_m2` each, at most `max_cells` (the
/// cells grow until they fit).
pub fn divide(
    area: &MultiPolygon<f64>,
    cell_area_m2: f64,
    max_cells: usize,
    roads: Option<&RoadLines>,
) -> Option<Division> {
    let rect = area.bounding_rect()?;
    let metric = LocalMetric::at(rect.center());
    let shape = area.map_coords(|c| metric.to_metres(c));
    let total = shape.unsigned_area();
    if total <= 0.0 || !cell_area_m2.is_finite() || cell_area_m2 <= 0.0 {
        return None;
    }
    let road_tree = roads.map(|r| {
        RTree::bulk_load(
            r.0.iter()
                .map(|[a, b]| {
                    let (a, b) = (metric.to_metres(*a), metric.to_metres(*b));
                    Line::new([a.x, a.y], [b.x, b.y])
                })
                .collect::<Vec<_>>(),
        )
    });
    let boundary = boundary_tree(&shape);
    let mut side = cell_area_m2.sqrt();
    // Enough cells of the target size would not fit the code space: grow them (a few tries;
    // clipping makes the count a little higher than area / side²).
    side = side.max((total / max_cells as f64).sqrt());
    for _ in 0..8 {
        let (cells, snapped) = cut(&shape, &boundary, road_tree.as_ref(), side);
        if cells.len() <= max_cells {
            let cells = cells
                .into_iter()
                .map(|c| c.map_coords(|m| metric.to_degrees(m)))
                .collect();
            return Some(Division {
                cells,
                side_m: side,
                snapped,
            });
        }
        side *= (cells.len() as f64 / max_cells as f64).sqrt() * 1.02;
    }
    None
}

type Segment = GeomWithData<Line<[f64; 2]>, ()>;

/// One clipped cell: its lattice column and row, its shape and area (local metres).
struct Piece {
    i: usize,
    j: usize,
    shape: MultiPolygon<f64>,
    area: f64,
}

fn boundary_tree(shape: &MultiPolygon<f64>) -> RTree<Segment> {
    let mut segments = Vec::new();
    for poly in &shape.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for l in ring.lines() {
                segments.push(GeomWithData::new(
                    Line::new([l.start.x, l.start.y], [l.end.x, l.end.y]),
                    (),
                ));
            }
        }
    }
    RTree::bulk_load(segments)
}

/// The lattice of cells of `side` metres over `shape`, clipped to it, slivers merged.
fn cut(
    shape: &MultiPolygon<f64>,
    boundary: &RTree<Segment>,
    roads: Option<&RTree<Line<[f64; 2]>>>,
    side: f64,
) -> (Vec<MultiPolygon<f64>>, usize) {
    let Some(rect) = shape.bounding_rect() else {
        return (Vec::new(), 0);
    };
    let nx = ((rect.width() / side).ceil() as usize).max(1);
    let ny = ((rect.height() / side).ceil() as usize).max(1);
    let x0 = rect.min().x - (nx as f64 * side - rect.width()) / 2.0;
    let y0 = rect.min().y - (ny as f64 * side - rect.height()) / 2.0;
    let mut snapped = 0;
    let vertices: Vec<Coord<f64>> = (0..=ny)
        .flat_map(|j| (0..=nx).map(move |i| (i, j)))
        .map(|(i, j)| {
            let v = Coord {
                x: x0 + i as f64 * side,
                y: y0 + j as f64 * side,
            };
            match roads.and_then(|t| snap(t, v, side * SNAP_SHARE)) {
                Some(s) => {
                    snapped += 1;
                    s
                }
                None => v,
            }
        })
        .collect();
    let at = |i: usize, j: usize| vertices[j * (nx + 1) + i];

    // Row-major from the north-west: the order codes are handed out in.
    let mut pieces: Vec<Option<Piece>> = Vec::new();
    for j in (0..ny).rev() {
        for i in 0..nx {
            let ring = vec![
                at(i, j),
                at(i + 1, j),
                at(i + 1, j + 1),
                at(i, j + 1),
                at(i, j),
            ];
            let quad = Polygon::new(LineString::new(ring), vec![]);
            let piece = clip(&quad, shape, boundary);
            let area = piece.unsigned_area();
            if area > side * side * 1e-6 {
                pieces.push(Some(Piece {
                    i,
                    j,
                    shape: piece,
                    area,
                }));
            }
        }
    }
    merge_slivers(&mut pieces, side * side * SLIVER_SHARE);
    (
        pieces.into_iter().flatten().map(|p| p.shape).collect(),
        snapped,
    )
}

/// The part of `quad` inside `shape`: the quad itself when no boundary segment comes near it
/// and it lies inside, nothing when it lies outside, else the intersection.
fn clip(
    quad: &Polygon<f64>,
    shape: &MultiPolygon<f64>,
    boundary: &RTree<Segment>,
) -> MultiPolygon<f64> {
    let Some(r) = quad.bounding_rect() else {
        return MultiPolygon(vec![]);
    };
    let envelope = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
    if boundary
        .locate_in_envelope_intersecting(&envelope)
        .next()
        .is_none()
    {
        let inside = quad.centroid().is_some_and(|c| shape.contains(&c));
        return if inside {
            MultiPolygon(vec![quad.clone()])
        } else {
            MultiPolygon(vec![])
        };
    }
    quad.intersection(shape)
}

/// The nearest point on a road within `within` metres of `v`.
fn snap(roads: &RTree<Line<[f64; 2]>>, v: Coord<f64>, within: f64) -> Option<Coord<f64>> {
    let (line, d2) = roads
        .nearest_neighbor_iter_with_distance_2(&[v.x, v.y])
        .next()?;
    if d2 > within * within {
        return None;
    }
    let a = Coord {
        x: line.from[0] - v.x,
        y: line.from[1] - v.y,
    };
    let b = Coord {
        x: line.to[0] - v.x,
        y: line.to[1] - v.y,
    };
    let n = nearest_on_segment(a, b);
    Some(Coord {
        x: v.x + n.x,
        y: v.y + n.y,
    })
}

/// Merges every piece smaller than `min_area` into its largest lattice neighbour, smallest
/// first. A piece with no neighbour left (an exclave) stays as it is.
fn merge_slivers(pieces: &mut [Option<Piece>], min_area: f64) {
    let area = |pieces: &[Option<Piece>], k: usize| pieces[k].as_ref().map_or(0.0, |p| p.area);
    let index: std::collections::HashMap<(usize, usize), usize> = pieces
        .iter()
        .enumerate()
        .filter_map(|(k, p)| p.as_ref().map(|p| ((p.i, p.j), k)))
        .collect();
    let mut small: Vec<usize> = (0..pieces.len())
        .filter(|&k| pieces[k].as_ref().is_some_and(|p| p.area < min_area))
        .collect();
    small.sort_by(|&a, &b| area(pieces, a).total_cmp(&area(pieces, b)).then(a.cmp(&b)));
    // Where each merged piece went, so a neighbour that was merged away is followed.
    let mut moved: Vec<usize> = (0..pieces.len()).collect();
    let root = |moved: &[usize], mut k: usize| {
        while moved[k] != k {
            k = moved[k];
        }
        k
    };
    for k in small {
        let Some((i, j)) = pieces[k]
            .as_ref()
            .filter(|p| p.area < min_area)
            .map(|p| (p.i, p.j))
        else {
            continue;
        };
        let neighbours = [
            (i.wrapping_sub(1), j),
            (i + 1, j),
            (i, j.wrapping_sub(1)),
            (i, j + 1),
        ];
        let best = neighbours
            .iter()
            .filter_map(|n| index.get(n))
            .map(|&n| root(&moved, n))
            .filter(|&n| n != k && pieces[n].is_some())
            .max_by(|&a, &b| area(pieces, a).total_cmp(&area(pieces, b)).then(b.cmp(&a)));
        let Some(into) = best else { continue };
        let Some(piece) = pieces[k].take() else {
            continue;
        };
        if let Some(target) = pieces[into].as_mut() {
            target.shape = target.shape.union(&piece.shape);
            target.area = target.shape.unsigned_area();
        }
        moved[k] = into;
    }
}
