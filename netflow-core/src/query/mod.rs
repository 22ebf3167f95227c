//! Querying flows: filters, grouping of denied connections, and the flat row schema that
//! every output format writes.

pub mod denied;
pub mod filter;
pub mod prefilter;
pub mod row;
pub mod unanswered;
pub mod why;

pub use denied::{DeniedAggregator, DeniedConnection, SideReport};
pub use filter::{FlowFilter, NodePattern, PodPattern, PortRange};
pub use prefilter::{NeedleHits, Prefilter};
pub use row::{DeniedRow, EndpointColumns, FlowRow};
pub use unanswered::UnansweredDetector;
pub use why::{Explainer, Why};
