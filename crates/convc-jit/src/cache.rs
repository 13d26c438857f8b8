//! A bounded least-recently-used map from spec (thread count aside) to code.

use std::collections::HashMap;
use std::sync::Arc;

use convc_core::ConvSpec;

use crate::module::Code;

/// Counters of a [`crate::Jit`]'s compile cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Compiled convolutions held now.
    pub entries: usize,
    /// Most entries held at once; the least recently used one goes first.
    pub capacity: usize,
    /// Compiles answered from the cache.
    pub hits: u64,
    /// Compiles that generated code.
    pub misses: u64,
    /// Entries dropped to make room (their code is freed once no
    /// [`crate::CompiledConv`] uses it).
    pub evictions: u64,
}

struct Entry {
    code: Arc<Code>,
    last_used: u64,
}

pub(crate) struct Cache {
    map: HashMap<ConvSpec, Entry>,
    clock: u64,
    stats: CacheStats,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            map: HashMap::new(),
            clock: 0,
            stats: CacheStats {
                capacity,
                ..CacheStats::default()
            },
        }
    }

    /// The code for `key`, marking it used.
    pub(crate) fn get(&mut self, key: &ConvSpec) -> Option<Arc<Code>> {
        self.clock += 1;
        let now = self.clock;
        let found = self.map.get_mut(key).map(|e| {
            e.last_used = now;
            Arc::clone(&e.code)
        });
        match found {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        found
    }

    /// Stores `code` for `key` unless another thread stored one first; returns the
    /// code now cached for `key` (or `code` itself with a capacity of 0).
    pub(crate) fn insert(&mut self, key: ConvSpec, code: Arc<Code>) -> Arc<Code> {
        if self.stats.capacity == 0 {
            return code;
        }
        self.clock += 1;
        let now = self.clock;
        if let Some(e) = self.map.get_mut(&key) {
            e.last_used = now;
            return Arc::clone(&e.code);
        }
        while self.map.len() >= self.stats.capacity {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
                .expect("a full cache has entries");
            self.map.remove(&oldest);
            self.stats.evictions += 1;
        }
        self.map.insert(
            key,
            Entry {
                code: Arc::clone(&code),
                last_used: now,
            },
        );
        code
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.len(),
            ..self.stats
        }
    }
}
