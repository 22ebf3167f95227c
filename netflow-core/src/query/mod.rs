//! Querying flows: filters (and the pre-filter needles they imply), grouping of denied
//! connections, unanswered requests, `top` groups, the WHY from the snapshot, and the output
//! rows with their one declaration of columns and their writers. The submodules are private
//! but for `filter` (the filter vocabulary and its value parsers); their face is re-exported
//! here.

mod denied;
pub mod filter;
mod flow_cells;
mod prefilter;
mod replay;
#[macro_use]
mod rows;
mod reconcile;
mod top;
mod unanswered;
mod why;
mod write;

pub use denied::{
    endpoint_key, merge_partials, unanswered_denials, DenialBasis, DeniedAggregator,
    DeniedConnection, PartialDenied, PartialGroup, PartialReport, SideReport,
};
pub use filter::{
    parse_duration, parse_ip_or_cidr, parse_protocol, parse_time, FlowFilter, NodePattern,
    PodPattern, PortRange, VerdictFilter,
};
pub use flow_cells::{FlowCells, FlowView};
pub use prefilter::needles_for;
pub use reconcile::{
    namespace_of, summarize, Agreement, Cause, CauseKind, LogEvidence, Observed, PairCounts,
    ReconcileRow, ReconcileSummaryRow, ReconciledConnection,
};
pub use replay::{
    connection_text, flow_pair_key, Change, ChangeCounts, ReplayAggregator, ReplayConnection,
};
pub(crate) use rows::declare_row;
pub use rows::{
    format_time, Cell, CheckRow, Column, ColumnType, DeclaredRow, DeniedRow, EndpointColumns,
    FlowRow, IntoCell, LintRow, ReplayRow, Row, RowObject,
};
pub use top::{
    groupable_columns, KeyValue, PartialKey, PartialTopGroup, TopAggregator, TopGroup, TopGroups,
    TopQuery, BUCKET_COLUMN, DEFAULT_TOP_KEYS, TOP_METRICS,
};
pub use unanswered::{looks_like_request, UnansweredDetector, UnansweredPart};
pub use why::{Explainer, Why, LOG_ALLOWS_SNAPSHOT_DENIES, LOG_DENIES_SNAPSHOT_ALLOWS};
pub use write::{RowFormat, RowWriter};
