//! The colour palette of orgform's terminal output, as `anstyle` styles
//! (the crate clap and annotate-snippets use). Diagnostics, error chains,
//! the plan text and the diff all take their styles from here: a warning
//! looks the same in each. Colour is used only when the
//! CLI says so (a terminal, no `NO_COLOR`).
//!
//! ```
//! use orgform_model::palette::{self, ADDED};
//! assert_eq!(palette::paint(false, ADDED, "+ E1"), "+ E1");
//! assert_eq!(palette::paint(true, ADDED, "+ E1"), "\u{1b}[32m+ E1\u{1b}[0m");
//! ```

use anstyle::{AnsiColor, Style};

/// An error's label.
pub const ERROR: Style = AnsiColor::Red.on_default().bold();
/// A warning's label.
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
/// A note, a hunk header.
pub const NOTE: Style = AnsiColor::Cyan.on_default();
/// The gutter of a snippet (line numbers, `|`).
pub const GUTTER: Style = AnsiColor::Blue.on_default().bold();
/// Emphasis: headings, the message of an error.
pub const EMPHASIS: Style = Style::new().bold();
/// Something created or added.
pub const ADDED: Style = AnsiColor::Green.on_default();
/// Something deleted or removed.
pub const REMOVED: Style = AnsiColor::Red.on_default();
/// Something changed in place.
pub const CHANGED: Style = AnsiColor::Yellow.on_default();
/// A deletion that needs attention (a blocked plan, a group's history lost).
pub const DANGER: Style = AnsiColor::Red.on_default().bold();

/// `text` in `style` when `on`, else `text` as it is.
pub fn paint(on: bool, style: Style, text: &str) -> String {
    if on {
        format!("{style}{text}{style:#}")
    } else {
        text.to_owned()
    }
}

/// The escape sequence that starts `style` (empty when `!on`).
pub fn start(on: bool, style: Style) -> String {
    if on {
        style.render().to_string()
    } else {
        String::new()
    }
}

/// The escape sequence that ends any style (empty when `!on`).
pub fn end(on: bool) -> &'static str {
    if on { "\u{1b}[0m" } else { "" }
}
