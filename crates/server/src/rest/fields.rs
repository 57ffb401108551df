//! Reading fields of REST bodies, with Tencent-style errors naming the field.

use serde_json::Value;

use super::{Call, RestError};

impl Call<'_> {
    fn missing(&self, name: &str) -> RestError {
        RestError::new(
            self.invalid_code,
            format!("{name} is missing or not a string"),
        )
    }

    /// A required non-empty string field.
    pub(crate) fn string(&self, name: &str) -> Result<String, RestError> {
        self.opt_string(name)?.ok_or_else(|| self.missing(name))
    }

    /// The first present of several names for one field (Tencent renamed some), required.
    pub(crate) fn string_of(&self, names: &[&str]) -> Result<String, RestError> {
        for name in names {
            if let Some(value) = self.opt_string(name)? {
                return Ok(value);
            }
        }
        Err(self.missing(&names.join(" or ")))
    }

    /// An optional string field (absent, null or empty → None).
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, RestError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RestError::new(
                self.invalid_code,
                format!("{name} must be a string"),
            )),
        }
    }

    /// An optional unsigned integer (numbers or decimal strings, as Tencent's SDKs send both).
    pub(crate) fn opt_u64(&self, name: &str) -> Result<Option<u64>, RestError> {
        number(self.body.get(name)).map_err(|()| {
            RestError::new(
                self.invalid_code,
                format!("{name} must be an unsigned integer"),
            )
        })
    }

    /// A required unsigned integer.
    pub(crate) fn u64(&self, name: &str) -> Result<u64, RestError> {
        self.opt_u64(name)?
            .ok_or_else(|| RestError::new(self.invalid_code, format!("{name} is missing")))
    }

    /// An array field (absent → empty).
    pub(crate) fn array(&self, name: &str) -> Result<&[Value], RestError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(RestError::new(
                self.invalid_code,
                format!("{name} must be an array"),
            )),
        }
    }

    /// An array of strings, with between 1 and `max` items.
    pub(crate) fn strings(&self, name: &str, max: usize) -> Result<Vec<String>, RestError> {
        let items = self.array(name)?;
        if items.is_empty() || items.len() > max {
            return Err(RestError::new(
                self.invalid_code,
                format!("{name} must hold 1 to {max} items"),
            ));
        }
        items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    RestError::new(self.invalid_code, format!("{name} items must be strings"))
                })
            })
            .collect()
    }

    /// A string field of each object of an array (e.g. `MemberList[].Member_Account`), with
    /// between 1 and `max` items.
    pub(crate) fn object_strings(
        &self,
        array: &str,
        field: &str,
        max: usize,
    ) -> Result<Vec<String>, RestError> {
        self.object_fields(array, field, max, "string", |value| {
            value
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    }

    /// A number field of each object of an array (e.g. `MsgSeqList[].MsgSeq`).
    pub(crate) fn object_numbers(
        &self,
        array: &str,
        field: &str,
        max: usize,
    ) -> Result<Vec<u64>, RestError> {
        self.object_fields(array, field, max, "number", |value| {
            number(value).ok().flatten()
        })
    }

    /// One field of each object of an array of 1 to `max` items, read by `read`.
    fn object_fields<T>(
        &self,
        array: &str,
        field: &str,
        max: usize,
        kind: &str,
        read: impl Fn(Option<&Value>) -> Option<T>,
    ) -> Result<Vec<T>, RestError> {
        let items = self.array(array)?;
        if items.is_empty() || items.len() > max {
            return Err(RestError::new(
                self.invalid_code,
                format!("{array} must hold 1 to {max} items"),
            ));
        }
        items
            .iter()
            .map(|item| {
                read(item.get(field)).ok_or_else(|| {
                    RestError::new(
                        self.invalid_code,
                        format!("each {array} item needs a {field} {kind}"),
                    )
                })
            })
            .collect()
    }
}

/// Reads an unsigned integer given as a JSON number or a decimal string.
pub(crate) fn number(value: Option<&Value>) -> Result<Option<u64>, ()> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(()),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    }
}
