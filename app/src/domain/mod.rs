//! The pure domain: validated values, the change request, the approval workflow, roles and
//! runs. Compiled on both sides (server and WASM) and tested without any feature.

pub mod activity;
pub mod fields;
pub mod request;
pub mod roles;
pub mod runs;
pub mod scans;
pub mod sign_in;
pub mod time;
pub mod workflow;

/// A state or kind stored as text: one mapping for the database, JSON and people (`as_str`),
/// every value listed (`ALL`).
macro_rules! stored_enum {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(
            feature = "ssr",
            derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
            sea_orm(rs_type = "String", db_type = "String(sea_orm::entity::prelude::StringLen::N(32))")
        )]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $text)]
                #[cfg_attr(feature = "ssr", sea_orm(string_value = $text))]
                $variant,
            )*
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &[$name] = &[$($name::$variant),*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use stored_enum;
