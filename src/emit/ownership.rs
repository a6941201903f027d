//! What dlspec owns in `out/`: the manifest's and the journal's records, by a key of each path.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher as _};

use camino::Utf8Path;

/// The first 16 bytes of a sha256: enough to tell contents apart, half the memory per entry.
pub(super) type Digest16 = [u8; 16];

pub(super) fn digest16(hash: &[u8]) -> Digest16 {
    hash[..16].try_into().expect("a sha256 has 32 bytes")
}

/// A path's key in the ownership map: 128 bits of two SipHashes, so that the map does not hold
/// the paths (50,000 images have 750,000 of them); bytes, so that an entry is not padded to 16.
type Key = [u8; 16];

pub(super) fn key(path: &Utf8Path) -> Key {
    let mut first = DefaultHasher::new();
    first.write(path.as_str().as_bytes());
    let mut second = DefaultHasher::new();
    second.write_u8(0xa5);
    second.write(path.as_str().as_bytes());
    ((u128::from(first.finish()) << 64) | u128::from(second.finish())).to_le_bytes()
}

/// What the manifest and the journal say about one path. The journal may record a path more than
/// once (compiles killed one after another), and each of its hashes is dlspec's.
#[derive(Debug, Clone, Default)]
pub(super) struct Owned {
    pub(super) manifest: Option<Digest16>,
    pub(super) journal: Vec<Digest16>,
}

impl Owned {
    pub(super) fn recorded(&self, digest: &Digest16) -> bool {
        self.manifest.as_ref() == Some(digest) || self.journal.contains(digest)
    }
}

/// Which paths the manifest and the journal own, by key, and which of them this run has done
/// with (planned, or handled as an orphan). The manifest's records (750,000 at 50,000 images) are
/// a sorted vector, 32 bytes a record where a hash map took over 70 while it grew, with where
/// each range of key prefixes starts (4 bytes per 4 records); the journal's (what a killed
/// compile was writing) are a map.
#[derive(Debug, Default)]
pub(super) struct Ownership {
    pub(super) manifest: Vec<(Key, Digest16)>,
    pub(super) manifest_done: Vec<bool>,
    /// `starts[b]`: the first record whose key's first `bucket_bits` bits are `b` or more.
    starts: Vec<u32>,
    bucket_bits: u32,
    pub(super) journal: HashMap<Key, (Vec<Digest16>, bool)>,
}

/// A key's first 64 bits, as a number that sorts as the key does.
fn key_prefix(key: &Key) -> u64 {
    u64::from_be_bytes(key[..8].try_into().expect("keys have 16 bytes"))
}

impl Ownership {
    /// Sorts the manifest's records once they are all read (in place: a stable sort's buffer
    /// would take half as much again) and indexes them; a manifest that lists a path twice was not
    /// written by dlspec, and is unusable.
    pub(super) fn seal_manifest(&mut self) -> Result<(), String> {
        self.manifest.sort_unstable_by_key(|(key, _)| *key);
        if self.manifest.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err("lists a path twice".to_owned());
        }
        self.manifest.shrink_to_fit();
        self.manifest_done = vec![false; self.manifest.len()];
        // The keys are hashes, spread evenly: about four records per bucket.
        self.bucket_bits = (self.manifest.len() / 4).max(1).ilog2();
        let buckets = 1_usize << self.bucket_bits;
        self.starts = Vec::with_capacity(buckets + 1);
        let mut at = 0;
        for bucket in 0..buckets {
            while at < self.manifest.len() && self.bucket(&self.manifest[at].0) < bucket {
                at += 1;
            }
            self.starts.push(u32::try_from(at).map_err(|_| "has too many lines".to_owned())?);
        }
        self.starts.push(u32::try_from(self.manifest.len()).map_err(|_| "has too many lines".to_owned())?);
        Ok(())
    }

    fn bucket(&self, key: &Key) -> usize {
        usize::try_from(key_prefix(key).checked_shr(64 - self.bucket_bits).unwrap_or(0))
            .expect("a bucket number fits in usize")
    }

    /// Where `key` is in the manifest: a search of its bucket, a cache miss or two where halving
    /// took twenty at 750,000 records.
    pub(super) fn find(&self, key: &Key) -> Option<usize> {
        if self.manifest.is_empty() {
            return None;
        }
        let bucket = self.bucket(key);
        let (low, high) = (self.starts[bucket] as usize, self.starts[bucket + 1] as usize);
        self.manifest[low..high].binary_search_by_key(key, |(k, _)| *k).ok().map(|at| low + at)
    }

    pub(super) fn get(&self, key: &Key) -> Option<Owned> {
        let manifest = self.find(key).map(|at| self.manifest[at].1);
        let journal = self.journal.get(key).map(|(digests, _)| digests.clone());
        (manifest.is_some() || journal.is_some()).then(|| Owned { manifest, journal: journal.unwrap_or_default() })
    }

    /// Marks `key` done; returns what owned it, and whether it was done already.
    pub(super) fn mark(&mut self, key: &Key) -> Option<(Owned, bool)> {
        let owned = self.get(key)?;
        let mut was_done = true;
        if let Some(at) = self.find(key) {
            was_done &= std::mem::replace(&mut self.manifest_done[at], true);
        }
        if let Some((_, done)) = self.journal.get_mut(key) {
            was_done &= std::mem::replace(done, true);
        }
        Some((owned, was_done))
    }
}
