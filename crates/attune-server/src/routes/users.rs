//! Users: profiles, erasure, identity stitching and a user's event history.

use std::collections::VecDeque;

use attune_core::event::check_id;
use attune_store::EventFilter;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::blocking;
use crate::api::{event_to_json, user_from_json, user_to_json, ErasureResponse, IdentifyResponse};
use crate::extract::{body_format, parse_object, read_body, App, IdPath, Params};
use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// Most events returned by one history request.
const MAX_HISTORY: usize = 10_000;

fn not_found(id: &str) -> Problem {
    Problem::new(
        ErrorCode::UserNotFound,
        format!("no user {id:?} in this app"),
    )
    .field("user_id")
}

/// `PUT /v1/users/{id}`: create or replace a profile; answers with the stored profile.
pub(super) async fn put(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Problem> {
    let id = id.check("user_id", state.max_id_len())?;
    body_format(&headers, false)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let strict = state.config.strict_fields;
    let serving = state.serving.clone();
    let a = app.clone();
    let user = blocking(move || {
        let v = parse_object(&bytes, "user")?;
        let limits = &state.config.event_rules.limits;
        let user =
            user_from_json(Some(&id), &v, strict, limits).map_err(Problem::invalid_record)?;
        state.store.upsert_users(&a, std::slice::from_ref(&user))?;
        Ok(user)
    })
    .await?;
    // The profile holds consent, onboarding categories and the segment, all read with the
    // user's live state: the next list reads them again.
    if let Some(s) = serving {
        s.forget_user(&app, &user.user_id);
    }
    Ok(Json(user_to_json(&user)))
}

/// `PUT /v1/users/{id}/consent`: set the user's consent (`{"personalization": false}`),
/// keeping the rest of the profile (a user without one gets one). With personalization off the
/// user is served non-personalized lists only and their events build no profile; serving
/// forgets what it held about them at once.
pub(super) async fn consent(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Problem> {
    let id = id.check("user_id", state.max_id_len())?;
    body_format(&headers, false)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let v = parse_object(&bytes, "consent")?;
    let personalization = match v.get("personalization") {
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Problem::new(
                ErrorCode::ValidationFailed,
                format!("personalization must be true or false, got {other}"),
            )
            .field("personalization"))
        }
        None => {
            return Err(Problem::new(
                ErrorCode::ValidationFailed,
                "personalization is required (true or false)",
            )
            .field("personalization"))
        }
    };
    if let Some(k) = v
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "personalization"))
    {
        return Err(Problem::new(
            ErrorCode::ValidationFailed,
            format!("unknown member {k:?}; consent has only personalization"),
        )
        .field(k.clone()));
    }
    let serving = state.serving.clone();
    let (store, a, uid) = (state.store.clone(), app.clone(), id.clone());
    let user = blocking(move || {
        let mut user = store
            .get_user(&a, &uid)?
            .unwrap_or_else(|| attune_core::catalog::User {
                user_id: uid.clone(),
                ..attune_core::catalog::User::default()
            });
        user.consent.personalization = personalization;
        store.upsert_users(&a, std::slice::from_ref(&user))?;
        Ok(user)
    })
    .await?;
    if let Some(s) = serving {
        s.forget_user(&app, &id);
    }
    Ok(Json(user_to_json(&user)))
}

/// `GET /v1/users/{id}`: the profile (404 when there is none, even if events exist).
pub(super) async fn get(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
) -> Result<Json<Value>, Problem> {
    let id = id.check("user_id", state.max_id_len())?;
    let user = blocking(move || {
        state
            .store
            .get_user(&app, &id)?
            .ok_or_else(|| not_found(&id))
    })
    .await?;
    Ok(Json(user_to_json(&user)))
}

/// `DELETE /v1/users/{id}`: erase profile, events and device links (the right to be
/// forgotten); answers with what was erased, or 404 when nothing existed.
pub(super) async fn delete(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
) -> Result<Json<ErasureResponse>, Problem> {
    let id = id.check("user_id", state.max_id_len())?;
    let serving = state.serving.clone();
    let (a, uid) = (app.clone(), id.clone());
    let erased = blocking(move || {
        let erased = state.store.delete_user(&a, &uid)?;
        if !erased.profile && erased.events == 0 && erased.identities == 0 {
            return Err(not_found(&uid));
        }
        Ok(erased)
    })
    .await?;
    // The erased user's live state goes too (the model still holds their training row until
    // the next training run, which no longer sees their events).
    if let Some(s) = serving {
        s.forget_user(&app, &id);
    }
    tracing::info!(
        events = erased.events,
        identities = erased.identities,
        "user erased"
    );
    Ok(Json(erased.into()))
}

/// `GET /v1/users/{id}/events?limit=`: the user's last `limit` events (stitched through linked
/// devices), oldest first / newest last.
pub(super) async fn events(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let id = id.check("user_id", state.max_id_len())?;
    let limit = params.usize("limit", 100, MAX_HISTORY)?;
    blocking(move || {
        let filter = EventFilter {
            user_id: Some(id.clone()),
            ..EventFilter::default()
        };
        let mut last = VecDeque::with_capacity(limit.min(1024));
        state.store.scan_events(&app, &filter, &mut |e| {
            if last.len() == limit {
                last.pop_front();
            }
            last.push_back(e);
            true
        })?;
        let events: Vec<Value> = last.iter().map(event_to_json).collect();
        Ok(Json(json!({"user_id": id, "events": events})))
    })
    .await
}

/// `POST /v1/identify {"anonymous_id", "user_id"}`: link a device to a user and re-attribute
/// its anonymous events; 409 when the device is linked to another user.
pub(super) async fn identify(
    State(state): State<AppState>,
    App(app): App,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IdentifyResponse>, Problem> {
    body_format(&headers, false)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    blocking(move || {
        let v = parse_object(&bytes, "identify")?;
        let obj = v.as_object().expect("parse_object returns objects");
        let max = state.max_id_len();
        let mut ids = [None, None];
        for (k, val) in obj {
            let slot = match k.as_str() {
                "anonymous_id" => &mut ids[0],
                "user_id" => &mut ids[1],
                other if state.config.strict_fields => {
                    return Err(Problem::new(
                        ErrorCode::ValidationFailed,
                        format!("{other}: unknown field; allowed: anonymous_id, user_id"),
                    )
                    .field(other))
                }
                _ => continue,
            };
            match val {
                Value::String(s) => *slot = Some(s.clone()),
                Value::Null => {}
                other => {
                    return Err(Problem::new(
                        ErrorCode::ValidationFailed,
                        format!(
                            "{k}: expected a string, got {}",
                            crate::api::describe(other)
                        ),
                    )
                    .field(k.as_str()))
                }
            }
        }
        let [anonymous_id, user_id] = ids;
        let (Some(anonymous_id), Some(user_id)) = (anonymous_id.as_ref(), user_id.as_ref()) else {
            let field = if anonymous_id.is_none() {
                "anonymous_id"
            } else {
                "user_id"
            };
            return Err(
                Problem::new(ErrorCode::ValidationFailed, format!("{field}: is required"))
                    .field(field),
            );
        };
        check_id("anonymous_id", anonymous_id, max).map_err(Problem::invalid_field)?;
        check_id("user_id", user_id, max).map_err(Problem::invalid_field)?;
        let reattributed = state.store.identify(&app, anonymous_id, user_id)?;
        Ok(Json(IdentifyResponse { reattributed }))
    })
    .await
}
