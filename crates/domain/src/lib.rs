//! juchu's business rules, free of IO so they can be trusted and property-tested.
//!
//! Types here validate on construction: once a value exists it is valid, and the layers
//! above (store, app, web) do not check it again.

/// `snake_case` names for storage and the API, and back — the same words serde uses.
macro_rules! codes {
    ($t:ty { $($v:ident => $c:literal),* $(,)? }) => {
        impl $t {
            pub fn code(self) -> &'static str {
                match self { $(Self::$v => $c),* }
            }
            pub fn from_code(s: &str) -> Option<Self> {
                match s { $($c => Some(Self::$v),)* _ => None }
            }
        }
    };
}

pub mod cancel_kind;
pub mod catalog;
pub mod customer;
pub mod error;
pub mod history;
pub mod input;
pub mod money;
pub mod order;
pub mod payment;
pub mod payment_method;
pub mod points;
pub mod search;
pub mod status;
pub mod tax;
pub mod time;

pub use error::{FieldError, Invalid};
pub use money::Yen;
