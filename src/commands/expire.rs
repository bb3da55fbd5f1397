//! (being written)

use super::CommandSpec;

/// This family's commands.
pub const COMMANDS: &[CommandSpec] = &[];
