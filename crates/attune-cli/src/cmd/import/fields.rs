//! The attune fields a file column can feed, and `--map FIELD=COLUMN` parsing.
//!
//! Field names are the JSON wire names (`type`, `properties.price`, `attributes.brand`), so one
//! vocabulary serves CSV columns, JSON-lines keys, `--map` and the CSV export header.

use crate::cli::Entity;

/// `context` members (the event's `context` object), as the event model names them.
pub use attune_core::event::CONTEXT_FIELDS;

/// Separator of list cells (`categories`, `tags`, `preferred_categories`) in CSV.
pub const LIST_SEPARATOR: char = '|';

/// An attune field that a file column can feed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `event_id`.
    EventId,
    /// `type` (also accepted as `event_type`).
    Type,
    /// `user_id` (events and users).
    UserId,
    /// `anonymous_id`.
    AnonymousId,
    /// `item_id` (events and items).
    ItemId,
    /// `timestamp`.
    Timestamp,
    /// `value`.
    Value,
    /// `properties.<name>`.
    Property(String),
    /// `properties`: a JSON object of properties (the CSV export's column).
    Properties,
    /// `context.<name>`, one of [`CONTEXT_FIELDS`].
    Context(&'static str),
    /// `title`.
    Title,
    /// `description`.
    Description,
    /// `categories`.
    Categories,
    /// `tags`.
    Tags,
    /// `published_at`.
    PublishedAt,
    /// `available`.
    Available,
    /// `attributes.<name>` (items and users).
    Attribute(String),
    /// `attributes`: a JSON object of attributes (items and users; the CSV export's column).
    Attributes,
    /// `preferred_categories`.
    PreferredCategories,
    /// `consent.personalization`.
    ConsentPersonalization,
}

impl Field {
    /// The field named `name` for `entity`, if there is one.
    pub fn parse(entity: Entity, name: &str) -> Option<Field> {
        let sub = |prefix: &str| name.strip_prefix(prefix).filter(|rest| !rest.is_empty());
        let f = match (entity, name) {
            (Entity::Events, "event_id") => Field::EventId,
            (Entity::Events, "type" | "event_type") => Field::Type,
            (Entity::Events | Entity::Users, "user_id") => Field::UserId,
            (Entity::Events, "anonymous_id") => Field::AnonymousId,
            (Entity::Events | Entity::Items, "item_id") => Field::ItemId,
            (Entity::Events, "timestamp") => Field::Timestamp,
            (Entity::Events, "value") => Field::Value,
            (Entity::Events, "properties") => Field::Properties,
            (Entity::Items | Entity::Users, "attributes") => Field::Attributes,
            (Entity::Events, _) if sub("properties.").is_some() => {
                Field::Property(sub("properties.")?.to_string())
            }
            (Entity::Events, _) if sub("context.").is_some() => {
                let key = sub("context.")?;
                Field::Context(CONTEXT_FIELDS.iter().find(|c| **c == key)?)
            }
            (Entity::Items, "title") => Field::Title,
            (Entity::Items, "description") => Field::Description,
            (Entity::Items, "categories") => Field::Categories,
            (Entity::Items, "tags") => Field::Tags,
            (Entity::Items, "published_at") => Field::PublishedAt,
            (Entity::Items, "available") => Field::Available,
            (Entity::Items | Entity::Users, _) if sub("attributes.").is_some() => {
                Field::Attribute(sub("attributes.")?.to_string())
            }
            (Entity::Users, "preferred_categories") => Field::PreferredCategories,
            (Entity::Users, "consent.personalization") => Field::ConsentPersonalization,
            _ => return None,
        };
        Some(f)
    }

    /// Where a column that names no field goes: a bare context member (`session_id`,
    /// `device`, ...) is that context member, anything else a property (events) or an attribute
    /// (items, users).
    pub fn extra(entity: Entity, column: &str) -> Field {
        match entity {
            Entity::Events => match CONTEXT_FIELDS.iter().find(|c| **c == column) {
                Some(c) => Field::Context(c),
                None => Field::Property(column.to_string()),
            },
            Entity::Items | Entity::Users => Field::Attribute(column.to_string()),
        }
    }

    /// The canonical (wire) name.
    pub fn name(&self) -> String {
        match self {
            Field::EventId => "event_id".into(),
            Field::Type => "type".into(),
            Field::UserId => "user_id".into(),
            Field::AnonymousId => "anonymous_id".into(),
            Field::ItemId => "item_id".into(),
            Field::Timestamp => "timestamp".into(),
            Field::Value => "value".into(),
            Field::Property(p) => format!("properties.{p}"),
            Field::Properties => "properties".into(),
            Field::Attributes => "attributes".into(),
            Field::Context(c) => format!("context.{c}"),
            Field::Title => "title".into(),
            Field::Description => "description".into(),
            Field::Categories => "categories".into(),
            Field::Tags => "tags".into(),
            Field::PublishedAt => "published_at".into(),
            Field::Available => "available".into(),
            Field::Attribute(a) => format!("attributes.{a}"),
            Field::PreferredCategories => "preferred_categories".into(),
            Field::ConsentPersonalization => "consent.personalization".into(),
        }
    }
}

/// The field names accepted for `entity`, for error messages.
pub fn allowed_fields(entity: Entity) -> &'static str {
    match entity {
        Entity::Events => {
            "event_id, type, user_id, anonymous_id, item_id, timestamp, value, properties, properties.<name>, \
             context.{session_id,device,page,recommendation_id,experiment,variant}"
        }
        Entity::Items => "item_id, title, description, categories, tags, published_at, available, attributes, attributes.<name>",
        Entity::Users => "user_id, preferred_categories, consent.personalization, attributes, attributes.<name>",
    }
}

/// `--map FIELD=COLUMN` arguments, checked: known fields, non-empty columns, no field twice.
pub fn parse_maps(entity: Entity, maps: &[String]) -> anyhow::Result<Vec<(Field, String)>> {
    let mut out: Vec<(Field, String)> = Vec::with_capacity(maps.len());
    for m in maps {
        let Some((field, column)) = m.split_once('=') else {
            anyhow::bail!("--map {m:?}: expected FIELD=COLUMN, e.g. --map user_id=customer_id");
        };
        let (field, column) = (field.trim(), column.trim());
        let Some(f) = Field::parse(entity, field) else {
            anyhow::bail!(
                "--map {m:?}: unknown field {field:?} for {}; fields: {}",
                entity_name(entity),
                allowed_fields(entity)
            );
        };
        anyhow::ensure!(!column.is_empty(), "--map {m:?}: the column name is empty");
        anyhow::ensure!(
            !out.iter().any(|(g, _)| *g == f),
            "--map {m:?}: field {field:?} is mapped twice"
        );
        out.push((f, column.to_string()));
    }
    Ok(out)
}

/// `events`, `items` or `users`.
pub fn entity_name(entity: Entity) -> &'static str {
    match entity {
        Entity::Events => "events",
        Entity::Items => "items",
        Entity::Users => "users",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_per_entity() {
        assert_eq!(
            Field::parse(Entity::Events, "event_type"),
            Some(Field::Type)
        );
        assert_eq!(
            Field::parse(Entity::Events, "properties.price"),
            Some(Field::Property("price".into()))
        );
        assert_eq!(
            Field::parse(Entity::Events, "context.device"),
            Some(Field::Context("device"))
        );
        assert_eq!(Field::parse(Entity::Events, "context.browser"), None);
        assert_eq!(Field::parse(Entity::Events, "properties."), None);
        assert_eq!(Field::parse(Entity::Events, "title"), None);
        assert_eq!(
            Field::parse(Entity::Items, "attributes.brand"),
            Some(Field::Attribute("brand".into()))
        );
        assert_eq!(Field::parse(Entity::Users, "item_id"), None);
        assert_eq!(
            Field::extra(Entity::Events, "device"),
            Field::Context("device")
        );
        assert_eq!(
            Field::extra(Entity::Events, "color"),
            Field::Property("color".into())
        );
        assert_eq!(
            Field::extra(Entity::Users, "age"),
            Field::Attribute("age".into())
        );
    }

    #[test]
    fn maps_are_checked() {
        let ok = parse_maps(
            Entity::Events,
            &[
                "user_id=customer".into(),
                "properties.price = amount".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            ok,
            vec![
                (Field::UserId, "customer".into()),
                (Field::Property("price".into()), "amount".into())
            ]
        );
        for (bad, needle) in [
            ("user_id", "expected FIELD=COLUMN"),
            ("customer=user_id", "unknown field \"customer\""),
            ("user_id=", "column name is empty"),
        ] {
            let err = parse_maps(Entity::Events, &[bad.to_string()])
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
        let twice =
            parse_maps(Entity::Events, &["type=a".into(), "event_type=b".into()]).unwrap_err();
        assert!(twice.to_string().contains("mapped twice"), "{twice}");
    }
}
