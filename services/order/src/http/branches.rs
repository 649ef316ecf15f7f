//! Branches: the list with whether each takes orders now ([`crate::hours`]), and what staff
//! of a branch (ADMIN: any) set — its weekly hours and the "pause new orders" switch.

use authclient::Caller;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveTime, SecondsFormat, Utc};
use httpkit::{ApiError, Error, Json, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{seoul, tables::manage};
use crate::{
    AppState,
    db::{self, BranchRow},
    hours::{self, OpenState, Opening},
};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Hours {
    /// `MON` … `SUN`.
    #[schema(example = "MON", pattern = "^(MON|TUE|WED|THU|FRI|SAT|SUN)$")]
    pub day: String,
    /// `HH:MM`, Asia/Seoul.
    #[schema(example = "11:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub opens: String,
    /// `HH:MM`; at or before `opens` runs past midnight (`02:00`), equal to it is the whole
    /// day.
    #[schema(example = "22:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub closes: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BranchInfo {
    pub bran_id: String,
    pub bran_nm: String,
    /// Takes orders now: within its hours and not paused.
    pub open_now: bool,
    /// Staff paused new orders.
    pub paused: bool,
    /// Paused until then (RFC 3339); absent while paused: until staff resume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<String>,
    /// Not open now: when it takes orders again (absent if not by itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<String>,
    /// Open now: when it stops (absent: open around the clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<String>,
    /// The week; empty: open around the clock. A day not listed is closed.
    pub hours: Vec<Hours>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.with_timezone(&seoul())
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn hhmm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

pub(super) fn info(row: &BranchRow, now: DateTime<Utc>) -> BranchInfo {
    let state = row.schedule.state(now);
    BranchInfo {
        bran_id: row.bran_id.clone(),
        bran_nm: row.bran_nm.clone(),
        open_now: state.open_now,
        paused: state.paused,
        paused_until: row
            .schedule
            .paused_until
            .filter(|_| state.paused)
            .map(rfc3339),
        opens_at: state.opens_at.map(rfc3339),
        closes_at: state.closes_at.map(rfc3339),
        hours: row
            .schedule
            .week
            .iter()
            .map(|o| Hours {
                day: hours::day_name(o.day).to_owned(),
                opens: hhmm(o.opens),
                closes: hhmm(o.closes),
            })
            .collect(),
    }
}

/// 422 `STORE_CLOSED`, with when it opens again.
pub(crate) fn store_closed(state: &OpenState) -> Error {
    let (message, opens_at) = match state.opens_at {
        Some(t) => {
            let local = t.with_timezone(&seoul());
            (
                format!(
                    "the shop is {} now; it takes orders again at {} ({})",
                    if state.paused { "paused" } else { "closed" },
                    local.format("%H:%M"),
                    local.format("%a %Y-%m-%d"),
                ),
                Some(rfc3339(t)),
            )
        }
        None => (
            format!(
                "the shop is {} now",
                if state.paused { "paused" } else { "closed" }
            ),
            None,
        ),
    };
    let mut err = ApiError::unprocessable(message)
        .with_details(json!({ "opens_at": opens_at, "paused": state.paused }));
    err.code = "STORE_CLOSED";
    Error::Api(err)
}

#[utoipa::path(get, path = "/order/branch/", tag = "order", operation_id = "list_branches",
    responses((status = 200, body = Vec<BranchInfo>, description = "Every branch, with whether it takes orders now")))]
pub(super) async fn list(State(s): State<AppState>) -> Result<Json<Vec<BranchInfo>>> {
    let now = Utc::now();
    Ok(Json(
        s.branches
            .list()
            .await?
            .iter()
            .map(|b| info(b, now))
            .collect(),
    ))
}

async fn one(s: &AppState, bran_id: &str) -> Result<Json<BranchInfo>> {
    let mut conn = s.db.acquire().await?;
    let row = db::branch(&mut conn, bran_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no branch '{bran_id}'")))?;
    Ok(Json(info(&row, Utc::now())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WeekBody {
    /// At most one opening per day; the days not listed are closed. Empty: open around the
    /// clock.
    #[schema(max_items = 7)]
    pub hours: Vec<Hours>,
}

fn parse_time(s: &str, what: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| Error::Validation(format!("{what} must be HH:MM (00:00 to 23:59), not '{s}'")))
}

fn week(body: &WeekBody) -> Result<Vec<Opening>> {
    let mut week: Vec<Opening> = Vec::with_capacity(body.hours.len());
    for h in &body.hours {
        let day = hours::parse_day(&h.day)
            .ok_or_else(|| Error::Validation(format!("day must be MON to SUN, not '{}'", h.day)))?;
        if week.iter().any(|o| o.day == day) {
            return Err(Error::Unprocessable(format!(
                "{} is listed twice; one opening per day",
                hours::day_name(day)
            )));
        }
        week.push(Opening {
            day,
            opens: parse_time(&h.opens, "opens")?,
            closes: parse_time(&h.closes, "closes")?,
        });
    }
    Ok(week)
}

#[utoipa::path(put, path = "/order/branch/{bran_id}/hours/", tag = "order",
    security(("bearer" = [])),
    params(("bran_id" = String, Path)),
    request_body = WeekBody,
    responses(
        (status = 200, body = BranchInfo, description = "The week replaced"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "An unknown day, a time not HH:MM"),
        (status = 422, body = httpkit::doc::ErrorEnvelope, description = "A day twice"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not STAFF/ADMIN, or STAFF bound to another branch"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch"),
    ))]
pub(super) async fn set_hours(
    State(s): State<AppState>,
    caller: Caller,
    Path(bran_id): Path<String>,
    Json(body): Json<WeekBody>,
) -> Result<Json<BranchInfo>> {
    manage(&s, &caller, &bran_id).await?;
    let week = week(&body)?;
    db::set_hours(&s.db, &bran_id, &week).await?;
    // This replica's own copies at once; the others' on the event.
    s.branches.invalidate();
    tracing::info!(bran.id = %bran_id, days = week.len(), by = %caller.member_id, "opening hours set");
    one(&s, &bran_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PauseBody {
    /// `true`: take no new orders; `false`: take them again.
    pub paused: bool,
    /// Paused until then (RFC 3339, in the next 7 days); absent: until resumed.
    #[serde(default)]
    #[schema(format = DateTime, example = "2026-12-03T15:00:00+09:00")]
    pub until: Option<String>,
}

/// The longest a pause with an end may run.
const MAX_PAUSE_DAYS: i64 = 7;

#[utoipa::path(put, path = "/order/branch/{bran_id}/pause/", tag = "order",
    security(("bearer" = [])),
    params(("bran_id" = String, Path)),
    request_body = PauseBody,
    responses(
        (status = 200, body = BranchInfo, description = "Paused or resumed"),
        (status = 400, body = httpkit::doc::ErrorEnvelope, description = "`until` not RFC 3339"),
        (status = 422, body = httpkit::doc::ErrorEnvelope, description = "`until` in the past, more than 7 days ahead, or given with `paused: false`"),
        (status = 401, body = httpkit::doc::ErrorEnvelope),
        (status = 403, body = httpkit::doc::ErrorEnvelope, description = "Not STAFF/ADMIN, or STAFF bound to another branch"),
        (status = 404, body = httpkit::doc::ErrorEnvelope, description = "No such branch"),
    ))]
pub(super) async fn set_pause(
    State(s): State<AppState>,
    caller: Caller,
    Path(bran_id): Path<String>,
    Json(body): Json<PauseBody>,
) -> Result<Json<BranchInfo>> {
    manage(&s, &caller, &bran_id).await?;
    let now = Utc::now();
    let until = match (&body.until, body.paused) {
        (None, _) => None,
        (Some(_), false) => {
            return Err(Error::Unprocessable("until goes with paused: true".into()));
        }
        (Some(raw), true) => {
            let t = DateTime::parse_from_rfc3339(raw)
                .map_err(|_| Error::Validation("until must be an RFC 3339 time".into()))?
                .with_timezone(&Utc);
            if t <= now || t > now + chrono::Duration::days(MAX_PAUSE_DAYS) {
                return Err(Error::Unprocessable(format!(
                    "until must be in the next {MAX_PAUSE_DAYS} days"
                )));
            }
            Some(t)
        }
    };
    db::set_pause(&s.db, &bran_id, body.paused, until).await?;
    s.branches.invalidate();
    tracing::info!(bran.id = %bran_id, paused = body.paused, until = ?until, by = %caller.member_id, "pause set");
    one(&s, &bran_id).await
}
