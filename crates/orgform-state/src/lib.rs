//! The last-applied state: an atomic file store, a lock, and a history log.
