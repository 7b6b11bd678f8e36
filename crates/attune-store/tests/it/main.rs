//! The store test-suite: every function of `suite.rs` runs against every backend.
//!
//! PostgreSQL tests need a server: `ATTUNE_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`. They fail (never skip) when it is unreachable.

mod postgres;
mod sqlite;
mod suite;

/// Instantiate the whole suite for one backend: one `#[test]` per suite function.
/// `$fixture` is an expression giving a value with `fn open(&self) -> Box<dyn Store>`; each test
/// builds its own fixture.
macro_rules! store_suite {
    ($fixture:expr) => {
        $crate::store_suite!(@store $fixture;
            insert_and_scan,
            floats_round_trip,
            duplicates_in_and_across_batches,
            large_batch,
            unknown_app,
            create_and_list_apps,
            stitching_on_insert,
            identify_reattributes_and_conflicts,
            delete_user_erases,
            items_round_trip,
            users_round_trip,
            scan_filters_and_order,
            app_isolation,
            counts,
            concurrent_use,
            reentrant_visitor,
            registry_versions_per_app,
            registry_round_trip,
            registry_register_rules,
            registry_activate_and_rollback,
            registry_refusals_change_nothing,
            registry_walk_matches_a_stack,
            registry_concurrent_use,
            registry_app_isolation,
            experiment_lifecycle,
            experiment_layers_are_exclusive,
            experiment_concurrent_starts,
            experiment_exposures,
            monitor_points,
            monitor_alerts_and_profiles,
            dismissals_from_events,
            retention_deletes_one_type_by_age,
            studies_round_trip,
            study_refusals_change_nothing,
        );
        $crate::store_suite!(@reopen $fixture;
            durable_across_reopen,
            registry_durable_across_reopen,
            experiments_durable_across_reopen,
            monitoring_durable_across_reopen,
            studies_durable_across_reopen,
        );
    };
    (@store $fixture:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let fixture = $fixture;
                let store = fixture.open();
                $crate::suite::$name(&*store);
            }
        )*
    };
    (@reopen $fixture:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let fixture = $fixture;
                $crate::suite::$name(&|| fixture.open());
            }
        )*
    };
}
pub(crate) use store_suite;
