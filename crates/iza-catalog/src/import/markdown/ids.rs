//! Hands out unique ids within one namespace (services and groups share one, as flow steps
//! name either; agents, flows and channels have their own).

use std::collections::HashSet;

use super::super::slug;

/// The ids taken so far in one namespace.
#[derive(Debug)]
pub(super) struct Namespace {
    taken: HashSet<String>,
    /// Used when a name has no ASCII letter or digit to make an id of (`service-1`).
    fallback: &'static str,
}

impl Namespace {
    /// An empty namespace whose nameless ids start with `fallback`.
    pub(super) fn new(fallback: &'static str) -> Namespace {
        Namespace {
            taken: HashSet::new(),
            fallback,
        }
    }

    /// True when `id` is free.
    pub(super) fn is_free(&self, id: &str) -> bool {
        !id.is_empty() && !self.taken.contains(id)
    }

    /// Takes `id`, which must be free.
    pub(super) fn take(&mut self, id: &str) -> String {
        self.taken.insert(id.to_owned());
        id.to_owned()
    }

    /// The id for `name`: its slug when free, else the slug with `-2`, `-3`, ... The flag
    /// says whether the id differs from the plain slug (so the caller can note it).
    pub(super) fn claim(&mut self, name: &str) -> (String, bool) {
        let base = slug(name);
        self.claim_id(&base)
    }

    /// Like [`Namespace::claim`], for an id already made.
    pub(super) fn claim_id(&mut self, base: &str) -> (String, bool) {
        if self.is_free(base) {
            return (self.take(base), false);
        }
        let stem = if base.is_empty() { self.fallback } else { base };
        let start = if base.is_empty() { 1 } else { 2 };
        let mut n: usize = start;
        loop {
            let candidate = format!("{stem}-{n}");
            if self.is_free(&candidate) {
                return (self.take(&candidate), !base.is_empty());
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Namespace;

    #[test]
    fn claims_are_unique() {
        let mut ids = Namespace::new("service");
        assert_eq!(ids.claim("Redis"), ("redis".to_owned(), false));
        assert_eq!(ids.claim("redis"), ("redis-2".to_owned(), true));
        assert_eq!(ids.claim("REDIS!"), ("redis-3".to_owned(), true));
        assert_eq!(ids.claim("üåê"), ("service-1".to_owned(), false));
        assert_eq!(ids.claim("数据"), ("service-2".to_owned(), false));
    }
}
