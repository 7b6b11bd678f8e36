//! JSON-lines input: one object per line in exactly the HTTP API's format.
//!
//! Decoding is `attune_server::api::{event,item,user}_from_json`, the functions the HTTP routes
//! use, so a line that the API would accept imports and one it would reject is reported with the
//! API's message. Blank lines are skipped. `--map FIELD=KEY` renames a top-level key before
//! decoding (`--map user_id=customer` reads `"customer"` as `user_id`; dotted fields such as
//! `properties.price` move the key into that object).

use std::io::BufRead;

use attune_core::error::FieldError;
use attune_core::limits::InputLimits;
use serde_json::{Map, Value};

use super::fields::Field;
use super::{Decoded, Record};
use crate::cli::Entity;

/// Lines of a JSON-lines file, decoded (not yet validated).
pub struct JsonlSource {
    reader: Box<dyn BufRead>,
    entity: Entity,
    maps: Vec<(Field, String)>,
    strict_fields: bool,
    limits: InputLimits,
    line: u64,
    buf: Vec<u8>,
}

impl JsonlSource {
    /// `strict_fields` rejects unknown members, as `server.strict_fields` does for the API;
    /// `limits` are the `[limits]` the API applies.
    pub fn new(
        reader: Box<dyn BufRead>,
        entity: Entity,
        maps: &[(Field, String)],
        strict_fields: bool,
        limits: InputLimits,
    ) -> Self {
        Self {
            reader,
            entity,
            maps: maps.to_vec(),
            strict_fields,
            limits,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The next non-blank line, or `None` at the end.
    pub fn next_record(&mut self) -> anyhow::Result<Option<Record>> {
        loop {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let line = self.line;
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return Ok(Some(Record::failed(
                    line,
                    FieldError::new("line", "is not valid UTF-8"),
                )));
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let mut value: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    return Ok(Some(Record::failed(
                        line,
                        FieldError::new("line", format!("is not valid JSON: {e}")),
                    )))
                }
            };
            if let Value::Object(obj) = &mut value {
                apply_maps(obj, &self.maps);
            }
            return Ok(Some(self.decode(line, &value)));
        }
    }

    fn decode(&self, line: u64, v: &Value) -> Record {
        use attune_server::api;
        let strict = self.strict_fields;
        let (decoded, errors) = match self.entity {
            Entity::Events => match api::event_from_json(v, strict) {
                Ok(raw) => (Some(Decoded::Event(raw)), Vec::new()),
                Err(e) => (None, vec![e]),
            },
            Entity::Items => match api::item_from_json(None, v, strict, &self.limits) {
                Ok(item) => (Some(Decoded::Item(item)), Vec::new()),
                Err(e) => (None, e.errors),
            },
            Entity::Users => match api::user_from_json(None, v, strict, &self.limits) {
                Ok(user) => (Some(Decoded::User(user)), Vec::new()),
                Err(e) => (None, e.errors),
            },
        };
        Record {
            line,
            decoded,
            errors,
        }
    }
}

/// Move each mapped key to its field's place in the canonical object. The explicit mapping wins
/// over a key already there.
fn apply_maps(obj: &mut Map<String, Value>, maps: &[(Field, String)]) {
    for (field, key) in maps {
        let Some(v) = obj.remove(key) else { continue };
        let name = field.name();
        match name.split_once('.') {
            None => {
                obj.insert(name, v);
            }
            Some((parent, child)) => {
                let slot = obj
                    .entry(parent.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                match slot {
                    Value::Object(inner) => {
                        inner.insert(child.to_string(), v);
                    }
                    // Not an object: leave it for the decoder to report, and put the mapped
                    // value back so nothing silently disappears.
                    _ => {
                        obj.insert(key.clone(), v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_rename_and_nest() {
        let mut v =
            json!({"customer": "u1", "cost": 9.5, "properties": {"color": "red"}, "sku": "i1"});
        let maps = vec![
            (Field::UserId, "customer".to_string()),
            (Field::Property("price".into()), "cost".to_string()),
            (Field::Context("device"), "dev".to_string()),
            (Field::ItemId, "sku".to_string()),
        ];
        apply_maps(v.as_object_mut().unwrap(), &maps);
        assert_eq!(
            v,
            json!({"user_id": "u1", "item_id": "i1", "properties": {"color": "red", "price": 9.5}})
        );
    }
}
