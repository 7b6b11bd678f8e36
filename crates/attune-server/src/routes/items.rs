//! The catalog: `/v1/items` and `/v1/items/{id}`.

use attune_core::catalog::Item;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use super::blocking;
use crate::api::{item_from_json, item_to_json, RecordError};
use crate::extract::{body_format, parse_object, parse_records, read_body, App, IdPath, Params};
use crate::problem::{ErrorCode, Problem};
use crate::AppState;

/// Most items in one listing page.
const MAX_PAGE: usize = 1000;

fn not_found(id: &str) -> Problem {
    Problem::new(
        ErrorCode::ItemNotFound,
        format!("no item {id:?} in this app"),
    )
    .field("item_id")
}

/// `PUT /v1/items/{id}`: create or replace one item; answers with the stored item.
pub(super) async fn put(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Problem> {
    let id = id.check("item_id", state.max_id_len())?;
    body_format(&headers, false)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let strict = state.config.strict_fields;
    let item = blocking(move || {
        let v = parse_object(&bytes, "item")?;
        let limits = &state.config.event_rules.limits;
        let item =
            item_from_json(Some(&id), &v, strict, limits).map_err(Problem::invalid_record)?;
        state
            .store
            .upsert_items(&app, std::slice::from_ref(&item))?;
        // Stored: an item the active model does not know is listable from the next request.
        if let Some(serving) = &state.serving {
            serving.observe_items(&app, std::slice::from_ref(&item));
        }
        Ok(item)
    })
    .await?;
    Ok(Json(item_to_json(&item)))
}

/// `GET /v1/items/{id}`.
pub(super) async fn get(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
) -> Result<Json<Value>, Problem> {
    let id = id.check("item_id", state.max_id_len())?;
    let item = blocking(move || {
        state
            .store
            .get_item(&app, &id)?
            .ok_or_else(|| not_found(&id))
    })
    .await?;
    Ok(Json(item_to_json(&item)))
}

/// `DELETE /v1/items/{id}`: 204, or 404 when absent. The item's events stay.
pub(super) async fn delete(
    State(state): State<AppState>,
    App(app): App,
    id: IdPath,
) -> Result<StatusCode, Problem> {
    let id = id.check("item_id", state.max_id_len())?;
    blocking(move || {
        if state.store.delete_item(&app, &id)? {
            if let Some(serving) = &state.serving {
                serving.forget_items(&app, std::slice::from_ref(&id));
            }
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(not_found(&id))
        }
    })
    .await
}

/// `POST /v1/items`: bulk upsert (JSON array, one object or NDJSON), atomic.
pub(super) async fn bulk_upsert(
    State(state): State<AppState>,
    App(app): App,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Problem> {
    let format = body_format(&headers, true)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    blocking(move || {
        let config = &state.config;
        let records = parse_records(
            &bytes,
            format,
            config.max_batch_items,
            "max_batch_items",
            "item",
        )?;
        let mut items: Vec<Item> = Vec::with_capacity(records.len());
        let mut errors = Vec::new();
        let mut n_rejected = 0;
        for (idx, v) in records.iter().enumerate() {
            match item_from_json(None, v, config.strict_fields, &config.event_rules.limits) {
                Ok(item) => items.push(item),
                Err(e) => {
                    n_rejected += 1;
                    errors.extend(e.errors.into_iter().map(|e| RecordError::new(idx, e)));
                }
            }
        }
        if n_rejected > 0 {
            let what = format!(
                "{n_rejected} of {} items are invalid and nothing was stored",
                records.len()
            );
            return Err(Problem::invalid_batch(errors, &what));
        }
        if !items.is_empty() {
            state.store.upsert_items(&app, &items)?;
            if let Some(serving) = &state.serving {
                serving.observe_items(&app, &items);
            }
        }
        Ok(Json(json!({"upserted": items.len()})))
    })
    .await
}

/// `GET /v1/items?limit=&after=`: a page of items in id order, after the id `after`.
/// `next_after` is the cursor for the next page (null on the last one).
pub(super) async fn list(
    State(state): State<AppState>,
    App(app): App,
    params: Params,
) -> Result<Json<Value>, Problem> {
    let limit = params.usize("limit", 100, MAX_PAGE)?;
    let after = params.str("after").map(str::to_string);
    blocking(move || {
        let mut page = Vec::with_capacity(limit);
        let mut more = false;
        state.store.scan_items(&app, &mut |item| {
            if after.as_deref().is_some_and(|a| item.item_id.as_str() <= a) {
                return true;
            }
            if page.len() == limit {
                more = true;
                return false;
            }
            page.push(item);
            true
        })?;
        let next_after = if more {
            page.last().map(|i| i.item_id.clone())
        } else {
            None
        };
        let items: Vec<Value> = page.iter().map(item_to_json).collect();
        Ok(Json(json!({"items": items, "next_after": next_after})))
    })
    .await
}
