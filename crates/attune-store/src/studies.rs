//! The rules of tuning-study records, written once for both backends: what a record must
//! hold, and when an update may replace the stored study.

use crate::{Result, StoreError, StudyRecord};

fn invalid(field: &str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidStudy {
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn check_json(field: &str, text: &str, object: bool) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) if object && !v.is_object() => Err(invalid(field, "must be a JSON object")),
        Ok(_) => Ok(()),
        Err(e) => Err(invalid(field, format!("must be JSON: {e}"))),
    }
}

/// Check a record before anything is written.
pub(crate) fn check_study(s: &StudyRecord) -> Result<()> {
    if s.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    if s.name.len() > 200 {
        return Err(invalid("name", "must be at most 200 bytes"));
    }
    if s.algorithm.trim().is_empty() {
        return Err(invalid("algorithm", "must not be empty"));
    }
    if s.state.trim().is_empty() {
        return Err(invalid("state", "must not be empty"));
    }
    if s.best_value.is_some_and(|v| !v.is_finite()) {
        return Err(invalid("best_value", "must be finite"));
    }
    check_json("objective", &s.objective, true)?;
    check_json("space", &s.space, false)?;
    check_json("study", &s.study, true)
}

/// What an update is checked against: the stored row's fixed parts and trial count.
pub(crate) struct Stored {
    pub algorithm: String,
    pub space: String,
    pub n_trials: u32,
}

/// Whether `new` may replace the stored study: same algorithm, same space (as stored text:
/// the pipeline writes it canonically), and no fewer trials.
pub(crate) fn check_update(stored: &Stored, new: &StudyRecord) -> Result<()> {
    if stored.algorithm != new.algorithm {
        return Err(StoreError::Conflict(format!(
            "study {:?} tunes {:?}, not {:?}; nothing was changed",
            new.name, stored.algorithm, new.algorithm
        )));
    }
    if stored.space != new.space {
        return Err(StoreError::Conflict(format!(
            "study {:?} was created with another search space; nothing was changed",
            new.name
        )));
    }
    if new.n_trials < stored.n_trials {
        return Err(StoreError::Conflict(format!(
            "study {:?} has {} stored trials, the update only {} (was it run twice at once?); \
             nothing was changed",
            new.name, stored.n_trials, new.n_trials
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> StudyRecord {
        StudyRecord {
            name: "ease".into(),
            algorithm: "ease".into(),
            objective: r#"{"metric":"ndcg@10"}"#.into(),
            space: r#"[{"name":"lambda","kind":"float","low":1,"high":1000,"log":true}]"#.into(),
            study: r#"{"trials":[]}"#.into(),
            state: "running".into(),
            n_trials: 2,
            best_value: Some(0.25),
            created_micros: 0,
            updated_micros: 0,
        }
    }

    fn field_of(r: Result<()>) -> String {
        match r {
            Err(StoreError::InvalidStudy { field, .. }) => field,
            other => panic!("expected InvalidStudy, got {other:?}"),
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        assert!(check_study(&record()).is_ok());
        type Break = fn(&mut StudyRecord);
        let cases: [(&str, Break); 7] = [
            ("name", |r| r.name = " ".into()),
            ("algorithm", |r| r.algorithm.clear()),
            ("state", |r| r.state.clear()),
            ("best_value", |r| r.best_value = Some(f64::NAN)),
            ("objective", |r| r.objective = "[1]".into()),
            ("space", |r| r.space = "{".into()),
            ("study", |r| r.study = "null".into()),
        ];
        for (field, break_it) in cases {
            let mut r = record();
            break_it(&mut r);
            assert_eq!(field_of(check_study(&r)), field);
        }
    }

    #[test]
    fn updates_keep_algorithm_space_and_trials() {
        let stored = Stored {
            algorithm: "ease".into(),
            space: record().space,
            n_trials: 2,
        };
        assert!(check_update(&stored, &record()).is_ok());
        let mut r = record();
        r.algorithm = "als".into();
        assert!(matches!(
            check_update(&stored, &r),
            Err(StoreError::Conflict(_))
        ));
        let mut r = record();
        r.space = "[]".into();
        assert!(matches!(
            check_update(&stored, &r),
            Err(StoreError::Conflict(_))
        ));
        let mut r = record();
        r.n_trials = 1;
        let e = check_update(&stored, &r).unwrap_err().to_string();
        assert!(e.contains("2 stored trials"), "{e}");
    }
}
