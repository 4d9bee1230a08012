//! The history's day partitions on a real PostgreSQL: made ahead once however often
//! asked, a day's rows moved out of the default partition when its day is made, whole
//! days dropped per environment, and a lookup by ID pruned to one day.

use crate::common::postgres::database;
use chrono::{Days, NaiveDate, Utc};
use switchboard::model::Environment;
use switchboard::store::postgres::partitions::{
    day_floor, days, drop_days_before, ensure_days, partition_name,
};
use switchboard::store::postgres::{PgLocation, migrate};
use uuid::Uuid;

/// A UUIDv7 of noon on `day`.
fn id_on(day: NaiveDate) -> Uuid {
    let noon = day.and_hms_opt(12, 0, 0).expect("noon").and_utc();
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        noon.timestamp() as u64,
        0,
    ))
}

async fn insert_log(client: &tokio_postgres::Client, id: Uuid, environment: &str) {
    client
        .execute(
            "INSERT INTO logs (id, environment, request_id, created_at, log_type, status,
                 source_id, destination_id, data_model, event_type, record)
             VALUES ($1, $2, $1, now(), 'SEND', 'PENDING', $1, $1, 'Scheduling', 'New', '')",
            &[&id, &environment],
        )
        .await
        .expect("insert a log");
}

async fn home_of(client: &tokio_postgres::Client, id: Uuid) -> String {
    client
        .query_one(
            "SELECT tableoid::regclass::text FROM logs WHERE id = $1",
            &[&id],
        )
        .await
        .expect("the log")
        .get(0)
}

#[tokio::test]
async fn days_are_made_once_filled_from_the_default_and_dropped_per_environment() {
    let db = database().await;
    let at: PgLocation = db.url.parse().expect("location");
    migrate::migrate(&at, "test").await.expect("migrate");
    let mut client = db.client().await;

    let today = Utc::now().date_naive();
    let old = today - Days::new(10);
    // A log of a day not made yet lands in its environment's default partition.
    let old_id = id_on(old);
    insert_log(&client, old_id, "Production").await;
    assert_eq!(home_of(&client, old_id).await, "logs_production_default");

    let made = ensure_days(&at, &mut client, today - Days::new(1), today + Days::new(1))
        .await
        .expect("days");
    assert_eq!(made, 3 * 4 * 3, "3 days × 4 tables × 3 environments");
    let again = ensure_days(&at, &mut client, today - Days::new(1), today + Days::new(1))
        .await
        .expect("days again");
    assert_eq!(again, 0, "nothing made twice");

    let today_id = id_on(today);
    insert_log(&client, today_id, "Production").await;
    insert_log(&client, id_on(old), "Development").await;
    assert_eq!(
        home_of(&client, today_id).await,
        partition_name("logs", Environment::Production, today)
    );

    // Making the old day moves its row out of the default partition.
    ensure_days(&at, &mut client, old, old)
        .await
        .expect("old day");
    assert_eq!(
        home_of(&client, old_id).await,
        partition_name("logs", Environment::Production, old)
    );

    // A lookup by ID reads one day partition per environment, not every day.
    let plan: Vec<String> = client
        .query(
            &format!("EXPLAIN SELECT * FROM logs WHERE id = '{today_id}'"),
            &[],
        )
        .await
        .expect("explain")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains(&partition_name("logs", Environment::Production, today)),
        "{plan}"
    );
    assert!(
        !plan.contains(&partition_name("logs", Environment::Production, old)),
        "{plan}"
    );
    assert!(
        !plan.contains(&partition_name(
            "logs",
            Environment::Production,
            today + Days::new(1)
        )),
        "{plan}"
    );

    // Production keeps a week: its old day goes, whole; Development's stays.
    let dropped = drop_days_before(
        &at,
        &mut client,
        Environment::Production,
        today - Days::new(7),
    )
    .await
    .expect("drop");
    let expected: Vec<String> = ["attempts", "logs", "requests", "responses"]
        .iter()
        .map(|t| partition_name(t, Environment::Production, old))
        .collect();
    assert_eq!(dropped, expected);
    let left: i64 = client
        .query_one("SELECT count(*) FROM logs WHERE id = $1", &[&old_id])
        .await
        .expect("count")
        .get(0);
    assert_eq!(left, 0, "the old Production log went with its day");
    let kept: i64 = client
        .query_one(
            "SELECT count(*) FROM logs WHERE environment = 'Development' AND id < $1",
            &[&day_floor(today)],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(kept, 1, "Development keeps its own old day");
    assert_eq!(
        home_of(&client, today_id).await,
        partition_name("logs", Environment::Production, today)
    );
    let all = days(&client).await.expect("days");
    assert!(all.contains(&partition_name("logs", Environment::Development, old)));
    assert!(!all.contains(&partition_name("logs", Environment::Production, old)));
}
