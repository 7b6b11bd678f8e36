//! The behavioural event model: what an event is, what it means, and how it is checked.
//!
//! Everything that gives an event a meaning is defined here, once, and every part of attune
//! calls it, so import, the HTTP API, export, training and live serving cannot drift apart:
//! - the wire names of the typed properties and context fields ([`TYPED_PROPERTIES`],
//!   [`CONTEXT_FIELDS`], [`RawProperties::typed_mut`], [`Properties::typed`],
//!   [`Context::field_mut`], [`Context::fields`]);
//! - whose event it is ([`Event::user_key`]) and what explicit rating it carries
//!   ([`Event::rating`]);
//! - how much preference it expresses ([`weight::EventWeighting`]: the same weight in training
//!   and when a live event is folded in);
//! - [`validate`]: every input path (HTTP batch, CLI import, Kafka) turns its wire format into a
//!   [`RawEvent`] and calls it. Validation reports *every* broken rule with the field path, and
//!   never guesses: a naive timestamp or an out-of-range scroll depth is an error, not a silent
//!   clamp.

use std::collections::BTreeMap;

use crate::time::Timestamp;

mod validate;
pub mod weight;

pub use validate::{check_id, check_text, validate};
pub use weight::EventWeighting;

/// What the user did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// The item was shown in full (a product page, an article).
    View,
    /// The user clicked the item (in a list, a recommendation, a search result).
    Click,
    /// Time spent on the item; requires `properties.dwell_ms`.
    Dwell,
    /// How far the user scrolled; requires `properties.scroll_depth` in 0..=1.
    Scroll,
    /// Pointer rested on the item; requires `properties.hover_ms`.
    Hover,
    /// Added to the cart.
    AddToCart,
    /// Removed from the cart.
    RemoveFromCart,
    /// Bought; `properties.price` and `properties.quantity` feed monetary features.
    Purchase,
    /// An explicit rating; requires `properties.rating` (or `value`) on the configured scale.
    Rating,
    /// The item was displayed to the user (usually in a recommendation list).
    Impression,
    /// The user asked not to be shown the item again, or, with `properties.category`, that
    /// category ([`Event::dismissal`]). It expresses no preference (weight 0) and takes
    /// effect on the user's next list.
    NotInterested,
    /// An app-specific type declared in config (`events.custom_types`).
    Custom(String),
}

impl EventType {
    /// All built-in types, in documentation order.
    pub const BUILTIN: [EventType; 11] = [
        EventType::View,
        EventType::Click,
        EventType::Dwell,
        EventType::Scroll,
        EventType::Hover,
        EventType::AddToCart,
        EventType::RemoveFromCart,
        EventType::Purchase,
        EventType::Rating,
        EventType::Impression,
        EventType::NotInterested,
    ];

    /// The canonical wire name (`add_to_cart`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            EventType::View => "view",
            EventType::Click => "click",
            EventType::Dwell => "dwell",
            EventType::Scroll => "scroll",
            EventType::Hover => "hover",
            EventType::AddToCart => "add_to_cart",
            EventType::RemoveFromCart => "remove_from_cart",
            EventType::Purchase => "purchase",
            EventType::Rating => "rating",
            EventType::Impression => "impression",
            EventType::NotInterested => "not_interested",
            EventType::Custom(s) => s,
        }
    }

    /// Parse a wire name; custom names must be declared in `custom_types`.
    pub fn parse(s: &str, custom_types: &[String]) -> Option<EventType> {
        let builtin = EventType::BUILTIN.iter().find(|t| t.as_str() == s);
        match builtin {
            Some(t) => Some(t.clone()),
            None if custom_types.iter().any(|c| c == s) => Some(EventType::Custom(s.to_string())),
            None => None,
        }
    }

    /// Whether an event of this type must name an item (`not_interested` needs an item or
    /// a category; validation checks that).
    pub fn requires_item(&self) -> bool {
        !matches!(self, EventType::Custom(_) | EventType::NotInterested)
    }
}

/// A free-form property value (beyond the typed ones).
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// true / false.
    Bool(bool),
    /// Any JSON number.
    Number(f64),
    /// Any string.
    Text(String),
}

/// Typed properties with known meaning, plus free-form extras.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Properties {
    /// Milliseconds spent on the item (dwell events), >= 0.
    pub dwell_ms: Option<u64>,
    /// Fraction of the page scrolled, 0..=1.
    pub scroll_depth: Option<f64>,
    /// Milliseconds the pointer rested on the item, >= 0.
    pub hover_ms: Option<u64>,
    /// Unit price (purchases, cart events), >= 0.
    pub price: Option<f64>,
    /// Units (purchases, cart events), >= 1.
    pub quantity: Option<u32>,
    /// Explicit rating on the configured scale.
    pub rating: Option<f64>,
    /// Anything else the client sent, kept verbatim.
    pub extra: BTreeMap<String, PropValue>,
}

/// Where the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// Client session id.
    pub session_id: Option<String>,
    /// Device class or id (`mobile`, `desktop`, ...).
    pub device: Option<String>,
    /// Page or screen.
    pub page: Option<String>,
    /// The recommendation list this interaction came from (attribution).
    pub recommendation_id: Option<String>,
    /// Experiment the user was in.
    pub experiment: Option<String>,
    /// Variant of that experiment.
    pub variant: Option<String>,
}

/// A validated event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Client-supplied (or generated) unique id; the idempotency key.
    pub event_id: String,
    /// What happened.
    pub event_type: EventType,
    /// Known user, if any. At least one of `user_id` / `anonymous_id` is set.
    pub user_id: Option<String>,
    /// Device / browser id before login.
    pub anonymous_id: Option<String>,
    /// The item acted on (required for built-in types).
    pub item_id: Option<String>,
    /// When it happened (client clock, or server receive time if absent).
    pub timestamp: Timestamp,
    /// Generic numeric value (a rating, a watch fraction, revenue...).
    pub value: Option<f64>,
    /// Typed properties.
    pub properties: Properties,
    /// Context.
    pub context: Context,
}

/// Loosely typed properties as they arrive (numbers as `f64`, so range rules can name them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawProperties {
    /// See [`Properties::dwell_ms`].
    pub dwell_ms: Option<f64>,
    /// See [`Properties::scroll_depth`].
    pub scroll_depth: Option<f64>,
    /// See [`Properties::hover_ms`].
    pub hover_ms: Option<f64>,
    /// See [`Properties::price`].
    pub price: Option<f64>,
    /// See [`Properties::quantity`].
    pub quantity: Option<f64>,
    /// See [`Properties::rating`].
    pub rating: Option<f64>,
    /// Free-form extras.
    pub extra: BTreeMap<String, PropValue>,
}

/// An event as decoded from any wire format, before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawEvent {
    /// Optional client id.
    pub event_id: Option<String>,
    /// Type name (`view`, `add_to_cart`, a declared custom type).
    pub event_type: Option<String>,
    /// Known user id.
    pub user_id: Option<String>,
    /// Anonymous / device id.
    pub anonymous_id: Option<String>,
    /// Item id.
    pub item_id: Option<String>,
    /// RFC 3339 text; absent means "now".
    pub timestamp: Option<String>,
    /// Generic numeric value.
    pub value: Option<f64>,
    /// Properties.
    pub properties: RawProperties,
    /// Context.
    pub context: Context,
}

/// The rules an app applies to incoming events (from config).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRules {
    /// Extra event type names accepted besides the built-in ones.
    pub custom_types: Vec<String>,
    /// Lowest allowed rating.
    pub rating_min: f64,
    /// Highest allowed rating.
    pub rating_max: f64,
    /// How far in the future a client timestamp may be (clock skew), in seconds.
    pub max_future_skew_secs: i64,
    /// Earliest accepted timestamp, UTC microseconds (rejects epoch-zero bugs).
    pub min_timestamp_micros: i64,
    /// Ids, texts, property names and counts (`[limits]`); items and users are checked against
    /// the same value.
    pub limits: crate::limits::InputLimits,
}

impl Default for EventRules {
    fn default() -> Self {
        Self {
            custom_types: Vec::new(),
            rating_min: 1.0,
            rating_max: 5.0,
            max_future_skew_secs: 24 * 3600,
            // 1990-01-01T00:00:00Z
            min_timestamp_micros: 631_152_000 * 1_000_000,
            limits: crate::limits::InputLimits::default(),
        }
    }
}

impl Event {
    /// The identity this event counts for: the user when known, else the device
    /// (anonymous visitors are users too). Validation guarantees one of the two is set, so
    /// this is `None` only for events built by hand.
    pub fn user_key(&self) -> Option<&str> {
        self.user_id.as_deref().or(self.anonymous_id.as_deref())
    }

    /// [`Event::user_key`], or `""` for an event without either id.
    pub fn actor(&self) -> &str {
        self.user_key().unwrap_or("")
    }

    /// The explicit rating of a rating event: `properties.rating`, else `value` (validation
    /// copies `value` into `properties.rating`; events stored before it did still carry only
    /// `value`). `None` for other types and for non-finite numbers.
    pub fn rating(&self) -> Option<f64> {
        if self.event_type != EventType::Rating {
            return None;
        }
        self.properties
            .rating
            .or(self.value)
            .filter(|r| r.is_finite())
    }

    /// What a `not_interested` event dismisses: the category named by the
    /// [`DISMISSED_CATEGORY`] property, else the item. `None` for other types.
    pub fn dismissal(&self) -> Option<Dismissal> {
        if self.event_type != EventType::NotInterested {
            return None;
        }
        match self.properties.extra.get(DISMISSED_CATEGORY) {
            Some(PropValue::Text(c)) if !c.is_empty() => Some(Dismissal::Category(c.clone())),
            _ => self.item_id.clone().map(Dismissal::Item),
        }
    }

    /// Revenue of a purchase: `price × quantity` (quantity 1 when absent); `None` for other
    /// types or without a price.
    pub fn revenue(&self) -> Option<f64> {
        if self.event_type != EventType::Purchase {
            return None;
        }
        let price = self.properties.price?;
        Some(price * f64::from(self.properties.quantity.unwrap_or(1)))
    }
}

/// The property of a `not_interested` event that names a dismissed category.
pub const DISMISSED_CATEGORY: &str = "category";

/// What a user said they are not interested in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dismissal {
    /// One item.
    Item(String),
    /// Every item of a category.
    Category(String),
}

impl Dismissal {
    /// `item` or `category` (the stored kind).
    pub fn kind(&self) -> &'static str {
        match self {
            Dismissal::Item(_) => "item",
            Dismissal::Category(_) => "category",
        }
    }

    /// The item or category id.
    pub fn value(&self) -> &str {
        match self {
            Dismissal::Item(v) | Dismissal::Category(v) => v,
        }
    }

    /// From the stored kind and value (`None` for an unknown kind).
    pub fn from_parts(kind: &str, value: String) -> Option<Self> {
        match kind {
            "item" => Some(Dismissal::Item(value)),
            "category" => Some(Dismissal::Category(value)),
            _ => None,
        }
    }
}

/// The typed properties' wire names, in the order exports write them. Any other property name
/// is free-form ([`Properties::extra`]).
pub const TYPED_PROPERTIES: [&str; 6] = [
    "dwell_ms",
    "scroll_depth",
    "hover_ms",
    "price",
    "quantity",
    "rating",
];

/// The context fields' wire names, in the order exports write them.
pub const CONTEXT_FIELDS: [&str; 6] = [
    "session_id",
    "device",
    "page",
    "recommendation_id",
    "experiment",
    "variant",
];

/// A typed property's value as stored: whole numbers stay whole (`dwell_ms`, `hover_ms`,
/// `quantity`), the rest are `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TypedValue {
    /// A whole number.
    Whole(u64),
    /// Any other number.
    Number(f64),
}

impl RawProperties {
    /// The slot of the typed property named `name` (one of [`TYPED_PROPERTIES`]), so decoders
    /// fill it by name; `None` for a free-form name.
    pub fn typed_mut(&mut self, name: &str) -> Option<&mut Option<f64>> {
        Some(match name {
            "dwell_ms" => &mut self.dwell_ms,
            "scroll_depth" => &mut self.scroll_depth,
            "hover_ms" => &mut self.hover_ms,
            "price" => &mut self.price,
            "quantity" => &mut self.quantity,
            "rating" => &mut self.rating,
            _ => return None,
        })
    }
}

impl Properties {
    /// Every typed property with its wire name, in [`TYPED_PROPERTIES`] order.
    pub fn typed(&self) -> [(&'static str, Option<TypedValue>); 6] {
        use TypedValue::{Number, Whole};
        [
            ("dwell_ms", self.dwell_ms.map(Whole)),
            ("scroll_depth", self.scroll_depth.map(Number)),
            ("hover_ms", self.hover_ms.map(Whole)),
            ("price", self.price.map(Number)),
            ("quantity", self.quantity.map(|q| Whole(u64::from(q)))),
            ("rating", self.rating.map(Number)),
        ]
    }
}

impl Context {
    /// The slot of the context field named `name` (one of [`CONTEXT_FIELDS`]); `None` for an
    /// unknown name.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "session_id" => &mut self.session_id,
            "device" => &mut self.device,
            "page" => &mut self.page,
            "recommendation_id" => &mut self.recommendation_id,
            "experiment" => &mut self.experiment,
            "variant" => &mut self.variant,
            _ => return None,
        })
    }

    /// Every context field with its wire name, in [`CONTEXT_FIELDS`] order.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("session_id", self.session_id.as_deref()),
            ("device", self.device.as_deref()),
            ("page", self.page.as_deref()),
            ("recommendation_id", self.recommendation_id.as_deref()),
            ("experiment", self.experiment.as_deref()),
            ("variant", self.variant.as_deref()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: EventType) -> Event {
        Event {
            event_id: "e".into(),
            event_type: t,
            user_id: None,
            anonymous_id: Some("dev-1".into()),
            item_id: Some("i".into()),
            timestamp: Timestamp::from_utc_micros(0),
            value: Some(4.0),
            properties: Properties::default(),
            context: Context::default(),
        }
    }

    #[test]
    fn the_user_key_is_the_user_else_the_device() {
        let mut e = event(EventType::View);
        assert_eq!(e.user_key(), Some("dev-1"));
        e.user_id = Some("cust-1".into());
        assert_eq!(e.user_key(), Some("cust-1"));
        e.user_id = None;
        e.anonymous_id = None;
        assert_eq!((e.user_key(), e.actor()), (None, ""));
    }

    #[test]
    fn only_rating_events_carry_a_rating() {
        let mut e = event(EventType::Rating);
        assert_eq!(e.rating(), Some(4.0)); // from value
        e.properties.rating = Some(2.5);
        assert_eq!(e.rating(), Some(2.5)); // the property wins
        e.properties.rating = Some(f64::NAN);
        assert_eq!(e.rating(), None);
        assert_eq!(event(EventType::View).rating(), None);
    }

    #[test]
    fn revenue_is_price_times_quantity() {
        let mut e = event(EventType::Purchase);
        assert_eq!(e.revenue(), None);
        e.properties.price = Some(9.5);
        assert_eq!(e.revenue(), Some(9.5));
        e.properties.quantity = Some(3);
        assert_eq!(e.revenue(), Some(28.5));
        e.event_type = EventType::AddToCart;
        assert_eq!(e.revenue(), None);
    }

    #[test]
    fn every_typed_property_and_context_field_has_one_slot_per_name() {
        let mut raw = RawProperties::default();
        for (k, name) in TYPED_PROPERTIES.iter().enumerate() {
            *raw.typed_mut(name).unwrap() = Some(k as f64 + 1.0);
        }
        assert_eq!(raw.typed_mut("coupon"), None);
        assert_eq!(
            (raw.dwell_ms, raw.scroll_depth, raw.hover_ms),
            (Some(1.0), Some(2.0), Some(3.0))
        );
        assert_eq!(
            (raw.price, raw.quantity, raw.rating),
            (Some(4.0), Some(5.0), Some(6.0))
        );
        let p = Properties {
            dwell_ms: Some(1),
            quantity: Some(2),
            rating: Some(3.5),
            ..Properties::default()
        };
        let names: Vec<&str> = p.typed().iter().map(|t| t.0).collect();
        assert_eq!(names, TYPED_PROPERTIES);
        assert_eq!(p.typed()[0].1, Some(TypedValue::Whole(1)));
        assert_eq!(p.typed()[4].1, Some(TypedValue::Whole(2)));
        assert_eq!(p.typed()[5].1, Some(TypedValue::Number(3.5)));
        assert_eq!(p.typed()[1].1, None);

        let mut c = Context::default();
        for name in CONTEXT_FIELDS {
            *c.field_mut(name).unwrap() = Some(format!("{name}-x"));
        }
        assert!(c.field_mut("referrer").is_none());
        for (name, value) in c.fields() {
            assert_eq!(value, Some(format!("{name}-x").as_str()));
        }
        assert_eq!(c.variant.as_deref(), Some("variant-x"));
    }
}
