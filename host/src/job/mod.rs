//! Running as a job on AWS: which objects an invocation is about (`event`), and which
//! tables they go to (`route`).

pub mod event;
pub mod route;

pub use event::{parse as parse_event, ObjectEvent};
pub use route::Trigger;
