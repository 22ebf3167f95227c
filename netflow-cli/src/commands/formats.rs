//! `flowq formats`: the input formats and how they are recognised.

use std::io::Write;

use anyhow::Result;
use netflow_core::Format;

/// Lists the formats.
pub fn run(out: &mut dyn Write) -> Result<()> {
    for f in Format::ALL {
        writeln!(out, "{:<18} {}", f.name(), f.description())?;
    }
    Ok(())
}
