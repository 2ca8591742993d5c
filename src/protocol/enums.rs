//! Wire enums: strings, canonical casing out, any casing in, unknown values kept.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as sent.
            Other(Box<str>),
        }

        impl $name {
            /// The canonical wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s,
                }
            }

            /// Parses a wire string, ignoring ASCII case.
            pub fn parse(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($wire) { return $name::$variant; })+
                $name::Other(s.into())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::parse(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

wire_enum! {
    /// The content type of a value or property.
    ContentType {
        /// A string.
        String => "ContentString",
        /// A decimal number as a string.
        Number => "ContentNumber",
        /// `"true"` or `"false"`.
        Boolean => "ContentBoolean",
        /// ISO-8601 date and time.
        DateTime => "ContentDateTime",
        /// One object.
        Object => "ContentObject",
        /// A list of objects.
        List => "ContentList",
        /// A password: never echoed.
        Password => "ContentPassword",
        /// Rich text.
        Content => "ContentContent",
        /// An encrypted string.
        Encrypted => "ContentEncrypted",
    }
}

wire_enum! {
    /// What the engine should do with a ServiceResponse.
    InvokeType {
        /// Done: continue the flow.
        Forward => "FORWARD",
        /// Not done yet: the final answer comes to the callback.
        Wait => "WAIT",
        /// Done (OpenAPI spelling).
        Done => "DONE",
        /// Join.
        Join => "JOIN",
        /// Navigate.
        Navigate => "NAVIGATE",
        /// Status.
        Status => "STATUS",
        /// Accepted (callback reply).
        Success => "SUCCESS",
        /// Sync.
        Sync => "SYNC",
        /// Token completed.
        TokenCompleted => "TOKEN_COMPLETED",
        /// The engine is busy: retry the callback.
        Busy => "BUSY",
    }
}

wire_enum! {
    /// How a `where` entry compares a column with a value.
    CriteriaType {
        /// `=`.
        Equal => "EQUAL",
        /// `<>`.
        NotEqual => "NOT_EQUAL",
        /// `>`.
        GreaterThan => "GREATER_THAN",
        /// `>=`.
        GreaterThanOrEqual => "GREATER_THAN_OR_EQUAL",
        /// `<`.
        LessThan => "LESS_THAN",
        /// `<=`.
        LessThanOrEqual => "LESS_THAN_OR_EQUAL",
        /// Substring.
        Contains => "CONTAINS",
        /// Prefix.
        StartsWith => "STARTS_WITH",
        /// Suffix.
        EndsWith => "ENDS_WITH",
        /// Empty (`"true"`) or not empty (`"false"`).
        IsEmpty => "IS_EMPTY",
        /// Every listed value equals.
        AllEqual => "ALL_EQUAL",
        /// Any listed value equals.
        AnyEqual => "ANY_EQUAL",
    }
}

wire_enum! {
    /// How `where` entries and nested filters combine; `""` means AND.
    ComparisonType {
        /// All must hold.
        And => "AND",
        /// One must hold.
        Or => "OR",
        /// Not given (the engine sends `""`): AND.
        None => "",
    }
}

wire_enum! {
    /// Sort direction; `""` means ascending.
    OrderDirection {
        /// Ascending.
        Asc => "ASC",
        /// Descending.
        Desc => "DESC",
        /// Not given.
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_any_case_and_keep_unknowns() {
        let v: ContentType = serde_json::from_str("\"contentstring\"").unwrap();
        assert_eq!(v, ContentType::String);
        let v: InvokeType = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(v.as_str(), "SOMETHING_NEW");
        assert_eq!(
            serde_json::to_string(&InvokeType::Forward).unwrap(),
            "\"FORWARD\""
        );
        let v: ComparisonType = serde_json::from_str("\"\"").unwrap();
        assert_eq!(v, ComparisonType::None);
    }
}
