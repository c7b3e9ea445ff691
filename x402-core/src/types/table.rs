//! One table per document type: `document!` declares the struct, the list of
//! members it knows, its reader and its writer from the same rows, so that the
//! three cannot disagree and adding a member is adding a row.
//!
//! A row reads like the struct field it declares, followed by how it is read:
//!
//! ```text
//! /// Its media type.
//! pub mime_type: Option<JsonStr<'a>> = optional "mimeType" string,
//! ```
//!
//! - the field (`mime_type`, its doc and type); the type says how the value is
//!   written (see [`Member`]);
//! - its presence, which is also the name of the function in [`read`] that reads
//!   it: `required` (absent is `MissingField`; `null` goes to the reader like any
//!   value), `optional` (absent and `null` are `None`; the field is an `Option`,
//!   and `None` is not written), or `any` (the reader is handed the member as
//!   found, `None` when absent, and decides);
//! - its JSON key, which is also the field named in errors;
//! - its reader: a `fn(JsonValue<'a>, Reason, &'static str) -> Result<T, Error>`
//!   (`string`, `amount`, `network_caip2`, `integer`, `object`, ... in [`super`]),
//!   or a closure of that shape; it is called with the type's reason and the key
//!   (for `any`, with an `Option<JsonValue<'a>>`).
//!
//! Before the rows, `"x402Version" = X402_VERSION,` declares a document that
//! carries its protocol version first: read (it must be exactly that value; a
//! missing or wrong one is `invalid_x402_version`) and written, but not stored.
//!
//! Every type keeps the object it was read from in `source`: its unknown members
//! are re-emitted where they were, known members are written in their source
//! position, and known members the source lacks (all of them, for a built
//! document) follow in table order.
//!
//! The header says in which order members are checked, which decides the error
//! reported when several are wrong:
//! - `in table order`: members are looked up in one pass, then read row by row;
//! - `in document order`: members are read as they come in the object, then the
//!   missing required ones are reported in table order (rows may not use `any`).
//!
//! `FromJson as InvalidPayload` (any [`Reason`](crate::Reason)) after it also
//! implements [`FromJson`] with that reason, reading a top-level object; without
//! it the type's `FromJson` is written by hand around the generated `read_object`.

use super::{FromJson, List, RawObject};
use crate::amount::Amount;
use crate::json::{JsonObject, JsonStr, ObjectWriter, SinkFull, ToJson};
use crate::network::Network;

/// Declares a document type from its table of members (see the module docs).
macro_rules! document {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident<$lt:lifetime> in $order:ident order
            $(, FromJson as $reason:ident)? {
            $("x402Version" = $ver:ident,)?
            $(
                $(#[$fattr:meta])*
                pub $field:ident: $ty:ty = $presence:ident $key:literal $read:expr
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name<$lt> {
            $( $(#[$fattr])* pub $field: $ty, )*
            /// The object as received, whose unknown members are re-emitted in place on
            /// encode; [`JsonObject::EMPTY`](crate::json::JsonObject::EMPTY) when built.
            pub source: $crate::json::JsonObject<$lt>,
        }

        impl<$lt> $name<$lt> {
            /// The members of the table, in the order they are written when `source`
            /// lacks them.
            const KNOWN: &'static [&'static str; 0 $(+ document!(@one $ver))? $(+ document!(@one $key))*] =
                &[$(document!(@then $ver "x402Version"),)? $($key),*];

            /// Reads the members of `source`; errors carry the reason `r`.
            fn read_object(
                source: $crate::json::JsonObject<$lt>,
                r: $crate::error::Reason,
            ) -> Result<Self, $crate::error::Error> {
                document!(@read $order, source, r, $lt, [$($ver)?], $([$field: $ty, $presence $key $read])*)
            }
        }

        impl $crate::types::table::Member for $name<'_> {
            fn put(
                &self,
                w: &mut $crate::json::ObjectWriter<'_>,
                key: &str,
            ) -> Result<(), $crate::json::SinkFull> {
                w.field(key, self)
            }
        }

        $(
            impl<$lt> $crate::types::FromJson<$lt> for $name<$lt> {
                const REASON: $crate::error::Reason = $crate::error::Reason::$reason;

                fn from_json(v: $crate::json::JsonValue<$lt>) -> Result<Self, $crate::error::Error> {
                    Self::read_object($crate::types::object(v, Self::REASON, "")?, Self::REASON)
                }
            }
        )?

        impl $crate::json::ToJson for $name<'_> {
            fn write_json(
                &self,
                out: &mut dyn $crate::json::Sink,
            ) -> Result<(), $crate::json::SinkFull> {
                $crate::types::write_members(out, self.source, Self::KNOWN, |i, w| {
                    // Numbers the rows, to find the one of index `i`.
                    let mut rows = 0..;
                    $(
                        if rows.next() == Some(i) {
                            return w.u64_field("x402Version", $ver);
                        }
                    )?
                    $(
                        if rows.next() == Some(i) {
                            return $crate::types::table::Member::put(&self.$field, w, $key);
                        }
                    )*
                    Ok(())
                })
            }
        }
    };

    // Table order: one pass finds the members, then each row reads its own, in
    // the order of the table (a struct expression evaluates its fields in order).
    (@read table, $source:ident, $r:ident, $lt:lifetime, [$($ver:ident)?],
        $([$field:ident: $ty:ty, $presence:ident $key:literal $read:expr])*) => {{
        let mut found = $crate::types::fields($source, Self::KNOWN).into_iter();
        $(
            $crate::types::version(
                $crate::types::required(
                    found.next().flatten(),
                    $crate::error::Reason::InvalidX402Version,
                    "x402Version",
                )?,
                $ver,
            )?;
        )?
        Ok(Self {
            $( $field: $crate::types::table::read::$presence(found.next().flatten(), $r, $key, $read)?, )*
            source: $source,
        })
    }};

    // Document order: each member is read as the walk meets it, into a slot (the
    // field itself when optional); required members still missing are reported after.
    (@read document, $source:ident, $r:ident, $lt:lifetime, [],
        $([$field:ident: $ty:ty, $presence:ident $key:literal $read:expr])*) => {{
        struct Slots<$lt> {
            $( $field: document!(@slot_type $presence $ty), )*
        }
        let mut slots = Slots { $( $field: None, )* };
        $crate::types::read_members($source, Self::KNOWN, |i, v| {
            // Numbers the rows, to find the one of index `i`.
            let mut rows = 0..;
            $(
                if rows.next() == Some(i) {
                    document!(@fill $presence slots.$field, Some(v), $r, $key, $read);
                }
            )*
            Ok(())
        })?;
        Ok(Self {
            $( $field: document!(@take $presence slots.$field, $r, $key), )*
            source: $source,
        })
    }};
    (@slot_type required $ty:ty) => { Option<$ty> };
    (@slot_type optional $ty:ty) => { $ty };
    (@fill required $slot:expr, $v:expr, $r:ident, $key:literal, $read:expr) => {
        $slot = Some($crate::types::table::read::required($v, $r, $key, $read)?)
    };
    (@fill optional $slot:expr, $v:expr, $r:ident, $key:literal, $read:expr) => {
        $slot = $crate::types::table::read::optional($v, $r, $key, $read)?
    };
    (@take required $slot:expr, $r:ident, $key:literal) => {
        $crate::types::required($slot, $r, $key)?
    };
    (@take optional $slot:expr, $r:ident, $key:literal) => {
        $slot
    };

    (@one $unused:tt) => { 1 };
    (@then $unused:tt $($out:tt)*) => { $($out)* };
}

/// Reading a member, by its presence in the table.
pub(crate) mod read {
    use crate::error::{Error, Reason};
    use crate::json::JsonValue;

    /// Absent is `MissingField`; `null` goes to `read` like any other value.
    pub(crate) fn required<'a, T>(
        v: Option<JsonValue<'a>>,
        r: Reason,
        key: &'static str,
        read: impl FnOnce(JsonValue<'a>, Reason, &'static str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        read(super::super::required(v, r, key)?, r, key)
    }

    /// Absent and `null` are `None`.
    pub(crate) fn optional<'a, T>(
        v: Option<JsonValue<'a>>,
        r: Reason,
        key: &'static str,
        read: impl FnOnce(JsonValue<'a>, Reason, &'static str) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        super::super::present(v)
            .map(|v| read(v, r, key))
            .transpose()
    }

    /// `read` is handed the member as found (`None` when absent) and decides.
    pub(crate) fn any<'a, T>(
        v: Option<JsonValue<'a>>,
        r: Reason,
        key: &'static str,
        read: impl FnOnce(Option<JsonValue<'a>>, Reason, &'static str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        read(v, r, key)
    }
}

/// How a field's value is written as a member of its object: by its type.
///
/// Strings, integers and booleans go straight to the writer; `None` leaves the
/// member out; everything else is written by its [`ToJson`].
pub(crate) trait Member {
    /// Writes `"key":value` (or nothing).
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull>;
}

impl<T: Member> Member for Option<T> {
    // One copy for every optional member of a type, rather than one inlined in
    // each row's writer: the core is held to a code size budget (wasm).
    #[inline(never)]
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        match self {
            Some(v) => v.put(w, key),
            None => Ok(()),
        }
    }
}

impl Member for JsonStr<'_> {
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        w.str_field(key, *self)
    }
}

impl Member for u64 {
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        w.u64_field(key, *self)
    }
}

/// A protocol version.
impl Member for u8 {
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        w.u64_field(key, u64::from(*self))
    }
}

impl Member for bool {
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        w.bool_field(key, *self)
    }
}

/// A received object, written as it came.
impl Member for JsonObject<'_> {
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        w.field(key, &self.as_value())
    }
}

/// A received array, written as it came.
impl Member for crate::json::JsonArray<'_> {
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        w.field(key, &self.as_value())
    }
}

/// Implements [`Member`] through [`ToJson`].
macro_rules! member_by_to_json {
    ($($ty:ty),*) => {$(
        impl Member for $ty {
            fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
                w.field(key, self)
            }
        }
    )*};
}

member_by_to_json!(Amount, Network, RawObject<'_>);

impl<'a, T: FromJson<'a> + Copy + ToJson> Member for List<'a, T> {
    fn put(&self, w: &mut ObjectWriter<'_>, key: &str) -> Result<(), SinkFull> {
        w.field(key, self)
    }
}
