//! A bounded LRU cache of encoded tiles, by total bytes and by count.
//!
//! Keyed by layer, z/x/y and the generation of the data: whoever replaces the index (an import)
//! bumps the generation, so every old tile misses from then on and ages out of the LRU.
//!
//! One `std::sync::Mutex` around a `HashMap` and a `VecDeque` of recency stamps; a hit pushes a
//! new stamp and the stale one is skipped (and eventually compacted away), so both hits and
//! evictions are amortised O(1). Tiles are built outside the lock: two requests missing the same
//! tile at once both build it, and the second insert simply replaces the first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use super::TileLayer;

/// What a cached tile is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub layer: TileLayer,
    pub z: u8,
    pub x: u32,
    pub y: u32,
    /// Generation of the indexed data the tile was built from.
    pub generation: u64,
}

/// Hit and miss counters since the cache was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    pub bytes: usize,
}

pub struct TileCache {
    max_bytes: usize,
    max_entries: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<TileKey, (Bytes, u64)>,
    /// (key, stamp) from least to most recently used; entries whose stamp no longer matches
    /// the map's are stale.
    order: VecDeque<(TileKey, u64)>,
    stamp: u64,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// Bytes an entry is charged beyond its tile (key, map and queue slots).
const OVERHEAD: usize = 64;

impl TileCache {
    /// A cache holding at most `max_bytes` of tiles and at most `max_entries` tiles.
    pub fn new(max_bytes: usize, max_entries: usize) -> TileCache {
        TileCache {
            max_bytes,
            max_entries,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters for a cache; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached tile, marking it most recently used.
    pub fn get(&self, key: &TileKey) -> Option<Bytes> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.stamp += 1;
        let stamp = inner.stamp;
        match inner.map.get_mut(key) {
            Some((tile, s)) => {
                *s = stamp;
                let tile = tile.clone();
                inner.order.push_back((*key, stamp));
                inner.hits += 1;
                inner.compact();
                Some(tile)
            }
            None => {
                inner.misses += 1;
                None
            }
        }
    }

    /// Stores a tile, evicting the least recently used ones beyond the bounds. A tile larger
    /// than the whole budget is not stored.
    pub fn insert(&self, key: TileKey, tile: Bytes) {
        let cost = tile.len() + OVERHEAD;
        if cost > self.max_bytes || self.max_entries == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.stamp += 1;
        let stamp = inner.stamp;
        if let Some((old, _)) = inner.map.insert(key, (tile, stamp)) {
            inner.bytes -= old.len() + OVERHEAD;
        }
        inner.bytes += cost;
        inner.order.push_back((key, stamp));
        while inner.bytes > self.max_bytes || inner.map.len() > self.max_entries {
            let Some((k, s)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&k).is_some_and(|(_, current)| *current == s) {
                if let Some((old, _)) = inner.map.remove(&k) {
                    inner.bytes -= old.len() + OVERHEAD;
                }
            }
        }
        inner.compact();
    }

    /// The cached tile, or `make`'s, which is then cached. `make` runs without the lock held.
    pub fn get_or_try_insert_with<E>(
        &self,
        key: TileKey,
        make: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        if let Some(tile) = self.get(&key) {
            return Ok(tile);
        }
        let tile = Bytes::from(make()?);
        self.insert(key, tile.clone());
        Ok(tile)
    }

    /// Drops every tile whose generation is not `generation` (optional: old generations also
    /// age out by themselves).
    pub fn retain_generation(&self, generation: u64) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.map.retain(|k, _| k.generation == generation);
        inner.bytes = inner.map.values().map(|(t, _)| t.len() + OVERHEAD).sum();
        let map = &inner.map;
        inner
            .order
            .retain(|(k, s)| map.get(k).is_some_and(|(_, current)| current == s));
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.order.clear();
        inner.bytes = 0;
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: inner.hits,
            misses: inner.misses,
            entries: inner.map.len(),
            bytes: inner.bytes,
        }
    }
}

impl Inner {
    /// Drops stale queue entries once they outnumber the live ones.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|(_, current)| current == s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::district::AssetLayer;

    fn key(x: u32, generation: u64) -> TileKey {
        TileKey {
            layer: TileLayer::Assets(AssetLayer::Roads),
            z: 14,
            x,
            y: 7,
            generation,
        }
    }

    #[test]
    fn least_recently_used_goes_first() {
        let cache = TileCache::new(usize::MAX, 3);
        for x in 0..3 {
            cache.insert(key(x, 1), Bytes::from(vec![x as u8; 10]));
        }
        // Touch 0 so that 1 is the least recently used.
        assert!(cache.get(&key(0, 1)).is_some());
        cache.insert(key(3, 1), Bytes::from_static(b"three"));
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&key(1, 1)).is_none());
        for x in [0, 2, 3] {
            assert!(cache.get(&key(x, 1)).is_some(), "{x}");
        }
        // Many hits leave the queue bounded.
        for _ in 0..1000 {
            cache.get(&key(0, 1));
        }
        assert!(cache.lock().order.len() <= 2 * 3 + 64 + 1);
    }

    #[test]
    fn bytes_are_bounded() {
        let cache = TileCache::new(3 * (100 + OVERHEAD), usize::MAX);
        for x in 0..10 {
            cache.insert(key(x, 1), Bytes::from(vec![0; 100]));
        }
        let s = cache.stats();
        assert_eq!((s.entries, s.bytes), (3, 3 * (100 + OVERHEAD)));
        assert!(cache.get(&key(9, 1)).is_some() && cache.get(&key(6, 1)).is_none());
        // Replacing an entry does not double count it.
        cache.insert(key(9, 1), Bytes::from(vec![0; 50]));
        assert_eq!(cache.stats().bytes, 2 * (100 + OVERHEAD) + 50 + OVERHEAD);
        // Too big for the whole budget: not stored.
        cache.insert(key(99, 1), Bytes::from(vec![0; 1000]));
        assert!(cache.get(&key(99, 1)).is_none());
    }

    #[test]
    fn generations_key_the_cache() {
        let cache = TileCache::new(1 << 20, 100);
        let mut built = 0;
        let mut make = || {
            built += 1;
            Ok::<_, ()>(vec![built as u8; 4])
        };
        let a = cache.get_or_try_insert_with(key(1, 1), &mut make);
        let b = cache.get_or_try_insert_with(key(1, 1), &mut make);
        assert_eq!(a, b);
        let c = cache.get_or_try_insert_with(key(1, 2), &mut make);
        assert_ne!(a, c);
        assert_eq!(built, 2);
        cache.retain_generation(2);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&key(1, 1)).is_none());
        let s = cache.stats();
        assert_eq!((s.hits, s.misses), (1, 3));
        assert_eq!(s.bytes, 4 + OVERHEAD);
        // Errors are passed through and cache nothing.
        let e = cache.get_or_try_insert_with(key(5, 2), || Err::<Vec<u8>, _>("boom"));
        assert_eq!(e, Err("boom"));
        assert_eq!(cache.len(), 1);
    }
}
