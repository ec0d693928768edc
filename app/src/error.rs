//! The one error type every server function returns, shown to the person as-is.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::domain::request::FieldErrors;
use crate::domain::workflow::Denial;

/// What went wrong, in words fit for the person who asked. Internal details are logged on the
/// server, never sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("Sign in to continue.")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("That was not found.")]
    NotFound,
    #[error("Some fields need attention.")]
    Invalid(FieldErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("Something went wrong on the server. It has been logged; please try again.")]
    Internal,
    #[error("The server could not be reached: {0}")]
    Transport(String),
    /// The call could not be read (missing or malformed arguments).
    #[error("The request could not be read: {0}")]
    BadRequest(String),
    #[error("{0}")]
    Unavailable(String),
    /// Too many requests from this session or address; the number is the seconds to wait.
    #[error("Too many requests: wait {0} seconds and try again.")]
    RateLimited(u32),
}

impl AppError {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound => 404,
            AppError::Invalid(_) => 422,
            AppError::Conflict(_) => 409,
            AppError::Internal | AppError::Transport(_) => 500,
            AppError::BadRequest(_) => 400,
            AppError::Unavailable(_) => 503,
            AppError::RateLimited(_) => 429,
        }
    }

    /// How many seconds the caller should wait before trying again, when rate limited.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            AppError::RateLimited(seconds) => Some(*seconds),
            _ => None,
        }
    }

    /// The field errors, when this is a validation failure.
    pub fn field_errors(&self) -> Option<&FieldErrors> {
        match self {
            AppError::Invalid(errors) => Some(errors),
            _ => None,
        }
    }

    /// A single-field validation failure that echoes the typed values back.
    pub fn invalid_field(
        field: &str,
        message: impl Into<String>,
        values: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        errors.values = values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        AppError::Invalid(errors)
    }
}

impl From<Denial> for AppError {
    fn from(denial: Denial) -> Self {
        AppError::Forbidden(denial.to_string())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::BadRequest(value.to_string())
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        match err {
            sea_orm::DbErr::RecordNotFound(_) => AppError::NotFound,
            other => {
                tracing::error!(error = %other, "database error");
                AppError::Internal
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}
