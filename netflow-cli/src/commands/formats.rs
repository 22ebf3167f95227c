//! `flowq formats`: the input formats and how they are recognised.

use std::io::Write;

use anyhow::Result;
use netflow_core::Format;

/// Lists the formats, their descriptions aligned after the longest name.
pub fn run(out: &mut dyn Write) -> Result<()> {
    let width = Format::ALL
        .iter()
        .map(|f| f.name().len())
        .max()
        .unwrap_or(0);
    for f in Format::ALL {
        writeln!(out, "{:<width$}  {}", f.name(), f.description())?;
    }
    Ok(())
}
