//! Querying flows: filters (and the pre-filter needles they imply), grouping of denied
//! connections, unanswered requests, `top` groups, the WHY from the snapshot, and the output
//! rows with their one declaration of columns and their writers.

pub mod denied;
pub mod filter;
pub mod prefilter;
#[macro_use]
pub mod rows;
pub mod top;
pub mod unanswered;
pub mod why;
pub mod write;

pub use denied::{DeniedAggregator, DeniedConnection, SideReport};
pub use filter::{FlowFilter, NodePattern, PodPattern, PortRange, VerdictFilter};
pub use prefilter::needles_for;
pub(crate) use rows::declare_row;
pub use rows::{
    format_time, Cell, CheckRow, Column, ColumnType, DeclaredRow, DeniedRow, EndpointColumns,
    FlowRow, Row, RowObject,
};
pub use top::{KeyValue, TopAggregator, TopGroup, TopGroups, TopQuery};
pub use unanswered::UnansweredDetector;
pub use why::{Explainer, Why};
pub use write::{RowFormat, RowWriter};
