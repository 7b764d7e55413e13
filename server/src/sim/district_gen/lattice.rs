//! The lattice and the jurisdictions: the jittered lattice of cells and its fine vertices, the
//! choice of kept cells, streets (power diagram) and communities (grown region by region), and
//! the tracing of every jurisdiction polygon from its cells' boundary edges
//! ([`make_jurisdictions`]). Knows nothing of roads, buildings or POIs.

use std::collections::{HashMap, HashSet};
use std::f64::consts::TAU;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::district::{Jurisdiction, Level};

use super::{
    bilinear, c, cn_num, in_convex_quad, in_ring, lerp, signed_area2, to_km, BLOB_A, BLOB_B,
    CENTER, CX, CY, DISTRICT_CODE, DISTRICT_NAME, FX, FY, JITTER, LAT_MAX, LAT_MIN, LON_MAX,
    LON_MIN, NONE, NX, NY, S, STREETS,
};

/// Community names shared by every street once its own list is used up.
const GENERIC_COMMUNITY_NAMES: &[&str] = &[
    "兴隆", "瑞祥", "锦绣", "聚龙", "龙腾", "丰收", "荷村", "桂园", "榕树", "凤鸣", "文昌", "明德",
    "仁寿", "新涌", "滘口", "石涌", "基头", "桥头", "涌边", "东升", "西华", "南华", "太和", "朝阳",
    "翠园", "安宁", "永丰", "富民", "祥和", "星港", "金沙", "银河", "宝华", "富华", "怡翠", "新华",
    "和平", "光明", "红星", "团结", "东方", "振兴", "繁荣", "长兴", "同德", "田心", "水口", "谢边",
    "塘边", "蚬岗", "雷岗", "沙边", "龙潭", "奇龙", "宏图", "锦龙", "华阳", "丰泰", "裕丰", "泰和",
];

// ---------------------------------------------------------------------------------------------
// Lattice
// ---------------------------------------------------------------------------------------------

/// All block corners of the extent; coarse cell corners are the fine vertices at multiples of S.
pub(super) struct Lattice {
    fine: Vec<Coord<f64>>,
}

impl Lattice {
    pub(super) fn new(rng: &mut ChaCha8Rng) -> Lattice {
        let dx = (LON_MAX - LON_MIN) / CX as f64;
        let dy = (LAT_MAX - LAT_MIN) / CY as f64;
        let mut coarse = Vec::with_capacity(NX * NY);
        for j in 0..NY {
            for i in 0..NX {
                let angle = rng.gen_range(0.0..TAU);
                let r = JITTER * rng.gen::<f64>().sqrt();
                let mut x = LON_MIN + i as f64 * dx;
                let mut y = LAT_MIN + j as f64 * dy;
                // Border vertices only slide along the border; corners stay put.
                if i != 0 && i != NX - 1 {
                    x += r * angle.cos() * dx;
                }
                if j != 0 && j != NY - 1 {
                    y += r * angle.sin() * dy;
                }
                coarse.push(c(x, y));
            }
        }
        let mut fine = Vec::with_capacity(FX * FY);
        for fj in 0..FY {
            let cj = (fj / S).min(CY - 1);
            let v = (fj - cj * S) as f64 / S as f64;
            for fi in 0..FX {
                let ci = (fi / S).min(CX - 1);
                let u = (fi - ci * S) as f64 / S as f64;
                let q = [
                    coarse[cj * NX + ci],
                    coarse[cj * NX + ci + 1],
                    coarse[(cj + 1) * NX + ci + 1],
                    coarse[(cj + 1) * NX + ci],
                ];
                fine.push(bilinear(&q, u, v));
            }
        }
        Lattice { fine }
    }

    pub(super) fn p(&self, fi: usize, fj: usize) -> Coord<f64> {
        self.fine[fj * FX + fi]
    }

    /// Corners of block (fi, fj), counter-clockwise from the south-west.
    pub(super) fn block(&self, fi: usize, fj: usize) -> [Coord<f64>; 4] {
        [
            self.p(fi, fj),
            self.p(fi + 1, fj),
            self.p(fi + 1, fj + 1),
            self.p(fi, fj + 1),
        ]
    }

    /// Corners of coarse cell `cell`, counter-clockwise from the south-west.
    pub(super) fn cell(&self, cell: usize) -> [Coord<f64>; 4] {
        let (i, j) = (cell % CX, cell / CX);
        [
            self.p(i * S, j * S),
            self.p((i + 1) * S, j * S),
            self.p((i + 1) * S, (j + 1) * S),
            self.p(i * S, (j + 1) * S),
        ]
    }

    fn cell_centre(&self, cell: usize) -> Coord<f64> {
        let q = self.cell(cell);
        c(
            (q[0].x + q[1].x + q[2].x + q[3].x) / 4.0,
            (q[0].y + q[1].y + q[2].y + q[3].y) / 4.0,
        )
    }

    /// The block containing `p`, if any.
    pub(super) fn locate_block(&self, p: Coord<f64>) -> Option<(usize, usize)> {
        let gi = ((p.x - LON_MIN) / (LON_MAX - LON_MIN) * CX as f64).floor() as i64;
        let gj = ((p.y - LAT_MIN) / (LAT_MAX - LAT_MIN) * CY as f64).floor() as i64;
        for cj in (gj - 1)..=(gj + 1) {
            for ci in (gi - 1)..=(gi + 1) {
                if ci < 0 || cj < 0 || ci >= CX as i64 || cj >= CY as i64 {
                    continue;
                }
                let cell = cj as usize * CX + ci as usize;
                if !in_convex_quad(p, &self.cell(cell)) {
                    continue;
                }
                for b in 0..S {
                    for a in 0..S {
                        let (fi, fj) = (ci as usize * S + a, cj as usize * S + b);
                        if in_convex_quad(p, &self.block(fi, fj)) {
                            return Some((fi, fj));
                        }
                    }
                }
            }
        }
        None
    }
}

/// The 4-neighbours of a coarse cell (east, north, west, south), where they exist.
fn neighbours(cell: usize) -> impl Iterator<Item = usize> {
    let (i, j) = (cell % CX, cell / CX);
    [
        (i + 1 < CX).then(|| cell + 1),
        (j + 1 < CY).then(|| cell + CX),
        (i > 0).then(|| cell - 1),
        (j > 0).then(|| cell - CX),
    ]
    .into_iter()
    .flatten()
}

/// 4-connected components of the `cells` satisfying `member` (components in
/// discovery order).
fn components(cells: &[usize], member: impl Fn(usize) -> bool) -> Vec<Vec<usize>> {
    let mut seen = vec![false; CX * CY];
    let mut out = Vec::new();
    for &start in cells {
        if seen[start] || !member(start) {
            continue;
        }
        seen[start] = true;
        let mut comp = vec![start];
        let mut k = 0;
        while k < comp.len() {
            let cur = comp[k];
            k += 1;
            for n in neighbours(cur) {
                if !seen[n] && member(n) {
                    seen[n] = true;
                    comp.push(n);
                }
            }
        }
        out.push(comp);
    }
    out
}

/// Picks the ~600 cells of the district: an irregular blob, 4-connected, without holes.
pub(super) fn select_cells(lattice: &Lattice, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let harmonics: Vec<(f64, f64, f64)> = (2..=9)
        .map(|k| {
            let amp = if k <= 5 {
                rng.gen_range(0.04..0.09)
            } else {
                rng.gen_range(0.01..0.03)
            };
            (k as f64, amp, rng.gen_range(0.0..TAU))
        })
        .collect();
    let target = rng.gen_range(588..=612);
    let mut order: Vec<(f64, usize)> = (0..CX * CY)
        .map(|cell| {
            let p = lattice.cell_centre(cell);
            let (dx, dy) = ((p.x - CENTER.0) / BLOB_A, (p.y - CENTER.1) / BLOB_B);
            let theta = dy.atan2(dx);
            let r = 1.0
                + harmonics
                    .iter()
                    .map(|&(k, a, ph)| a * (k * theta + ph).cos())
                    .sum::<f64>();
            (dx.hypot(dy) / r, cell)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut kept = vec![false; CX * CY];
    for &(_, cell) in order.iter().take(target) {
        kept[cell] = true;
    }

    // Keep the largest 4-connected piece.
    let all: Vec<usize> = (0..CX * CY).collect();
    let comps = components(&all, |x| kept[x]);
    if let Some(largest) = comps.iter().max_by_key(|comp| comp.len()) {
        let mut only = vec![false; CX * CY];
        for &cell in largest {
            only[cell] = true;
        }
        kept = only;
    }

    // Fill holes: outside cells not reachable from the lattice border join the district.
    let border: Vec<usize> = (0..CX * CY)
        .filter(|&cell| {
            let (i, j) = (cell % CX, cell / CX);
            i == 0 || j == 0 || i == CX - 1 || j == CY - 1
        })
        .collect();
    let mut outside = vec![false; CX * CY];
    let mut queue: Vec<usize> = border.into_iter().filter(|&x| !kept[x]).collect();
    for &x in &queue {
        outside[x] = true;
    }
    while let Some(cur) = queue.pop() {
        for n in neighbours(cur) {
            if !kept[n] && !outside[n] {
                outside[n] = true;
                queue.push(n);
            }
        }
    }
    for cell in 0..CX * CY {
        if !outside[cell] {
            kept[cell] = true;
        }
    }
    kept
}

/// Splits the district's cells among the four streets: a power diagram over the street sites
/// with a little low-frequency noise, weights tuned to the target shares, then every street
/// made 4-connected.
pub(super) fn assign_streets(lattice: &Lattice, kept: &[bool], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let cells: Vec<usize> = (0..CX * CY).filter(|&x| kept[x]).collect();
    let centres: Vec<(f64, f64)> = cells
        .iter()
        .map(|&x| to_km(lattice.cell_centre(x)))
        .collect();
    let sites: Vec<(f64, f64)> = STREETS
        .iter()
        .map(|s| {
            to_km(c(
                s.site.0 + rng.gen_range(-0.004..0.004),
                s.site.1 + rng.gen_range(-0.004..0.004),
            ))
        })
        .collect();
    // Per street: three plane waves (amplitude km², wave vector, phase).
    let waves: Vec<Vec<(f64, f64, f64, f64)>> = (0..STREETS.len())
        .map(|_| {
            (0..3)
                .map(|_| {
                    let dir = rng.gen_range(0.0..TAU);
                    let k = TAU / rng.gen_range(3.0..7.0);
                    (
                        rng.gen_range(5.0..10.0),
                        k * dir.cos(),
                        k * dir.sin(),
                        rng.gen_range(0.0..TAU),
                    )
                })
                .collect()
        })
        .collect();
    let base: Vec<[f64; 4]> = centres
        .iter()
        .map(|&(x, y)| {
            let mut s = [0.0; 4];
            for (k, v) in s.iter_mut().enumerate() {
                let (sx, sy) = sites[k];
                let noise: f64 = waves[k]
                    .iter()
                    .map(|&(a, kx, ky, ph)| a * (kx * x + ky * y + ph).sin())
                    .sum();
                *v = (x - sx).powi(2) + (y - sy).powi(2) + noise;
            }
            s
        })
        .collect();
    let assign = |w: &[f64; 4]| -> Vec<usize> {
        base.iter()
            .map(|s| {
                let mut best = 0;
                for k in 1..4 {
                    if s[k] - w[k] < s[best] - w[best] {
                        best = k;
                    }
                }
                best
            })
            .collect()
    };
    let mut w = [0.0f64; 4];
    for round in 0..200 {
        let a = assign(&w);
        let step = 120.0 * (1.0 - round as f64 / 250.0);
        for (k, street) in STREETS.iter().enumerate() {
            let share = a.iter().filter(|&&x| x == k).count() as f64 / cells.len() as f64;
            w[k] += step * (street.share - share);
        }
    }
    let a = assign(&w);
    let mut street_of = vec![NONE; CX * CY];
    for (k, &cell) in cells.iter().enumerate() {
        street_of[cell] = a[k];
    }

    // Make sure each street got something: its site's nearest cell at least.
    for (k, &(sx, sy)) in sites.iter().enumerate() {
        if !street_of.contains(&k) {
            let nearest = (0..cells.len())
                .min_by(|&p, &q| {
                    let dp = (centres[p].0 - sx).powi(2) + (centres[p].1 - sy).powi(2);
                    let dq = (centres[q].0 - sx).powi(2) + (centres[q].1 - sy).powi(2);
                    dp.total_cmp(&dq)
                })
                .unwrap_or(0);
            street_of[cells[nearest]] = k;
        }
    }

    make_connected(&cells, &mut street_of);
    street_of
}

/// Hands every piece of a region other than its largest to the neighbouring region that
/// shares the most edges with it, until every region is 4-connected.
fn make_connected(cells: &[usize], label: &mut [usize]) {
    loop {
        let mut changed = false;
        let mut labels: Vec<usize> = cells.iter().map(|&x| label[x]).collect();
        labels.sort_unstable();
        labels.dedup();
        for l in labels {
            let own: Vec<usize> = cells.iter().copied().filter(|&x| label[x] == l).collect();
            let mut comps = components(&own, |x| label[x] == l);
            if comps.len() < 2 {
                continue;
            }
            // Largest first; ties by discovery order (stable sort).
            comps.sort_by_key(|comp| std::cmp::Reverse(comp.len()));
            for comp in &comps[1..] {
                let mut counts: Vec<(usize, usize)> = Vec::new();
                for &x in comp {
                    for n in neighbours(x) {
                        let nl = label[n];
                        if nl != NONE && nl != l {
                            match counts.iter_mut().find(|(lab, _)| *lab == nl) {
                                Some(e) => e.1 += 1,
                                None => counts.push((nl, 1)),
                            }
                        }
                    }
                }
                if let Some(&(to, _)) = counts
                    .iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                {
                    for &x in comp {
                        label[x] = to;
                    }
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

pub(super) struct Community {
    street: usize,
    pub(super) cells: Vec<usize>,
    pub(super) prefix: String,
    name: String,
    code: String,
}

/// Grows ~6-cell communities inside each street and names them. Returns the communities (sorted
/// by code) and the community index of every cell.
pub(super) fn grow_communities(
    lattice: &Lattice,
    street_of: &[usize],
    rng: &mut ChaCha8Rng,
) -> (Vec<Community>, Vec<usize>) {
    let pos = |x: usize| ((x % CX) as f64, (x / CX) as f64);
    let d2 = |a: usize, b: usize| {
        let (p, q) = (pos(a), pos(b));
        (p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)
    };
    let mut used_names: HashSet<&'static str> = HashSet::new();
    let mut generic: Vec<&'static str> = GENERIC_COMMUNITY_NAMES.to_vec();
    generic.shuffle(rng);
    let mut generic = generic.into_iter();
    let mut out: Vec<Community> = Vec::new();

    for (s, street) in STREETS.iter().enumerate() {
        let cells: Vec<usize> = (0..CX * CY).filter(|&x| street_of[x] == s).collect();
        if cells.is_empty() {
            continue;
        }
        let k = ((cells.len() as f64 / 6.0).round() as usize).clamp(1, cells.len());
        // Farthest-point seeds.
        let mut seeds = vec![cells[rng.gen_range(0..cells.len())]];
        let mut mind: Vec<f64> = cells.iter().map(|&x| d2(x, seeds[0])).collect();
        while seeds.len() < k {
            let mut best = 0;
            for (idx, &m) in mind.iter().enumerate() {
                if m > mind[best] {
                    best = idx;
                }
            }
            let seed = cells[best];
            seeds.push(seed);
            for (idx, &x) in cells.iter().enumerate() {
                mind[idx] = mind[idx].min(d2(x, seed));
            }
        }
        // Balanced growth: the smallest region with room takes its most compact free neighbour.
        let mut label = vec![NONE; CX * CY];
        let mut regions: Vec<Vec<usize>> = seeds.iter().map(|&x| vec![x]).collect();
        for (r, &x) in seeds.iter().enumerate() {
            label[x] = r;
        }
        loop {
            let mut order: Vec<usize> = (0..regions.len()).collect();
            order.sort_by_key(|&r| (regions[r].len(), r));
            let mut grew = false;
            for r in order {
                let mut best: Option<(f64, usize)> = None;
                for &x in &regions[r] {
                    for n in neighbours(x) {
                        if street_of[n] == s && label[n] == NONE {
                            let score = d2(n, seeds[r]) + rng.gen::<f64>() * 1.5;
                            if best.is_none_or(|(b, _)| score < b) {
                                best = Some((score, n));
                            }
                        }
                    }
                }
                if let Some((_, n)) = best {
                    label[n] = r;
                    regions[r].push(n);
                    grew = true;
                    break;
                }
            }
            if !grew {
                break;
            }
        }
        // Fold tiny regions (< 3 cells) into their smallest neighbour.
        loop {
            let tiny = (0..regions.len()).find(|&r| {
                !regions[r].is_empty()
                    && regions[r].len() < 3
                    && regions[r].iter().any(|&x| {
                        neighbours(x)
                            .any(|n| label[n] != NONE && label[n] != r && street_of[n] == s)
                    })
            });
            let Some(r) = tiny else { break };
            let mut target: Option<usize> = None;
            for &x in &regions[r] {
                for n in neighbours(x) {
                    let t = label[n];
                    if t != NONE && t != r && street_of[n] == s {
                        let better = match target {
                            None => true,
                            Some(cur) => (regions[t].len(), t) < (regions[cur].len(), cur),
                        };
                        if better {
                            target = Some(t);
                        }
                    }
                }
            }
            if let Some(t) = target {
                let moved = std::mem::take(&mut regions[r]);
                for &x in &moved {
                    label[x] = t;
                }
                regions[t].extend(moved);
            }
        }
        let mut regions: Vec<Vec<usize>> = regions.into_iter().filter(|r| !r.is_empty()).collect();
        for r in regions.iter_mut() {
            r.sort_unstable_by_key(|&x| (std::cmp::Reverse(x / CX), x % CX));
        }
        // Number north to south, then west to east, by centroid.
        let centroid = |r: &Vec<usize>| {
            let n = r.len() as f64;
            let (sx, sy) = r.iter().fold((0.0, 0.0), |acc, &x| {
                let p = lattice.cell_centre(x);
                (acc.0 + p.x, acc.1 + p.y)
            });
            (sx / n, sy / n)
        };
        regions.sort_by(|a, b| {
            let (pa, pb) = (centroid(a), centroid(b));
            // Bands ~1 km tall, then west to east.
            let (ba, bb) = ((pa.1 / 0.009).floor(), (pb.1 / 0.009).floor());
            bb.total_cmp(&ba).then(pa.0.total_cmp(&pb.0))
        });
        let mut pool: Vec<&'static str> = street.pool.to_vec();
        pool.shuffle(rng);
        let mut pool = pool.into_iter();
        for (n, cells) in regions.into_iter().enumerate() {
            let prefix = pool
                .by_ref()
                .find(|p| !used_names.contains(p))
                .or_else(|| generic.by_ref().find(|p| !used_names.contains(p)));
            let prefix = match prefix {
                Some(p) => {
                    used_names.insert(p);
                    p.to_string()
                }
                None => format!(
                    "{}第{}",
                    street.name.chars().take(2).collect::<String>(),
                    cn_num(n + 1)
                ),
            };
            let suffix = if rng.gen_bool(street.village_share) {
                "村"
            } else {
                "社区"
            };
            out.push(Community {
                street: s,
                cells,
                name: format!("{prefix}{suffix}"),
                prefix,
                code: format!("{}{:03}", street.code, n + 1),
            });
        }
    }
    let mut comm_of = vec![NONE; CX * CY];
    for (k, comm) in out.iter().enumerate() {
        for &x in &comm.cells {
            comm_of[x] = k;
        }
    }
    (out, comm_of)
}

// ---------------------------------------------------------------------------------------------
// Jurisdictions: boundary tracing
// ---------------------------------------------------------------------------------------------

/// Lattice directions, counter-clockwise: east, north, west, south.
const DIRS: [(i64, i64); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];

/// The union of `cells` (all satisfying `inside`, 4-connected) as a multipolygon: boundary
/// edges chained into rings over the fine vertices, outer rings counter-clockwise, holes
/// clockwise. At a vertex where the region touches itself diagonally the walk turns right, which
/// separates a hole from the shell instead of crossing it.
pub(super) fn trace(
    lattice: &Lattice,
    cells: &[usize],
    inside: impl Fn(usize) -> bool,
) -> MultiPolygon<f64> {
    let mut out: HashMap<usize, u8> = HashMap::new();
    let mut starts: Vec<(usize, usize)> = Vec::new();
    for &cell in cells {
        let (i, j) = (cell % CX, cell / CX);
        let sides = [
            ((j > 0).then(|| cell - CX), (i, j), 0usize),
            ((i + 1 < CX).then(|| cell + 1), (i + 1, j), 1),
            ((j + 1 < CY).then(|| cell + CX), (i + 1, j + 1), 2),
            ((i > 0).then(|| cell - 1), (i, j + 1), 3),
        ];
        for (nb, (vi, vj), d) in sides {
            let other_inside = nb.is_some_and(&inside);
            if !other_inside {
                let v = vj * NX + vi;
                *out.entry(v).or_default() |= 1 << d;
                starts.push((v, d));
            }
        }
    }
    let mut rings: Vec<(Vec<Coord<f64>>, f64)> = Vec::new();
    for &(v0, d0) in &starts {
        match out.get_mut(&v0) {
            Some(m) if *m & (1 << d0) != 0 => *m &= !(1 << d0),
            _ => continue,
        }
        let mut coords = Vec::new();
        let (mut v, mut d) = (v0, d0);
        loop {
            let (vi, vj) = ((v % NX) as i64, (v / NX) as i64);
            let (di, dj) = DIRS[d];
            for k in 0..S as i64 {
                coords.push(lattice.p(
                    (vi * S as i64 + k * di) as usize,
                    (vj * S as i64 + k * dj) as usize,
                ));
            }
            let w = ((vj + dj) as usize) * NX + (vi + di) as usize;
            let mut next = None;
            for nd in [(d + 3) % 4, d, (d + 1) % 4] {
                if w == v0 && nd == d0 {
                    break;
                }
                if let Some(m) = out.get_mut(&w) {
                    if *m & (1 << nd) != 0 {
                        *m &= !(1 << nd);
                        next = Some(nd);
                        break;
                    }
                }
            }
            match next {
                Some(nd) => {
                    v = w;
                    d = nd;
                }
                None => break,
            }
        }
        coords.push(coords[0]);
        let area = signed_area2(&coords);
        rings.push((coords, area));
    }
    let outers: Vec<usize> = (0..rings.len()).filter(|&k| rings[k].1 > 0.0).collect();
    let mut holes: Vec<Vec<LineString<f64>>> = vec![Vec::new(); outers.len()];
    for (ring, area) in &rings {
        if *area > 0.0 {
            continue;
        }
        let probe = lerp(ring[0], ring[1], 0.5);
        let owner = outers
            .iter()
            .enumerate()
            .filter(|(_, &o)| in_ring(probe, &rings[o].0))
            .min_by(|a, b| rings[*a.1].1.total_cmp(&rings[*b.1].1))
            .map(|(k, _)| k);
        if let Some(k) = owner {
            holes[k].push(LineString::from(ring.clone()));
        }
    }
    MultiPolygon::new(
        outers
            .iter()
            .zip(holes)
            .map(|(&o, h)| Polygon::new(LineString::from(rings[o].0.clone()), h))
            .collect(),
    )
}

pub(super) fn make_jurisdictions(
    lattice: &Lattice,
    kept: &[bool],
    street_of: &[usize],
    communities: &[Community],
    comm_of: &[usize],
) -> Vec<Jurisdiction> {
    let mut out = Vec::new();
    let all: Vec<usize> = (0..CX * CY).filter(|&x| kept[x]).collect();
    out.push(Jurisdiction {
        generated: false,
        level: Level::District,
        code: DISTRICT_CODE.to_string(),
        name: DISTRICT_NAME.to_string(),
        parent: None,
        geometry: trace(lattice, &all, |x| kept[x]),
    });
    for (s, street) in STREETS.iter().enumerate() {
        let cells: Vec<usize> = all.iter().copied().filter(|&x| street_of[x] == s).collect();
        out.push(Jurisdiction {
            generated: false,
            level: Level::Street,
            code: street.code.to_string(),
            name: street.name.to_string(),
            parent: Some(DISTRICT_CODE.to_string()),
            geometry: trace(lattice, &cells, |x| street_of[x] == s),
        });
    }
    for (k, comm) in communities.iter().enumerate() {
        out.push(Jurisdiction {
            generated: false,
            level: Level::Community,
            code: comm.code.clone(),
            name: comm.name.clone(),
            parent: Some(STREETS[comm.street].code.to_string()),
            geometry: trace(lattice, &comm.cells, |x| comm_of[x] == k),
        });
    }
    for comm in communities {
        for (n, &cell) in comm.cells.iter().enumerate() {
            out.push(Jurisdiction {
                generated: false,
                level: Level::Grid,
                code: format!("{}{:03}", comm.code, n + 1),
                name: format!("{}第{}网格", comm.name, n + 1),
                parent: Some(comm.code.clone()),
                geometry: trace(lattice, &[cell], |x| x == cell),
            });
        }
    }
    out.sort_by(|a, b| a.level.cmp(&b.level).then_with(|| a.code.cmp(&b.code)));
    out
}
