//! One module per subcommand.

pub mod completions;
pub mod sandbox;
pub mod tag;
