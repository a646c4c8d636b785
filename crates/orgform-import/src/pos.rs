//! Where a cell or a JSON value starts: shared by the CSV reader
//! (`source.rs`) and the JSON reader (`json.rs`), which uses neither.

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}
