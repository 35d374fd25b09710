//! Running as a job on AWS: which objects an invocation is about (`event`), which tables
//! they go to (`route`), and Step Functions task-token callbacks (`callback`).

pub mod callback;
pub mod event;
pub mod route;

pub use callback::{SfnSettings, TaskToken};
pub use event::{parse as parse_event, ObjectEvent};
pub use route::Trigger;
