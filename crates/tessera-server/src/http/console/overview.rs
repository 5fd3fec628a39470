//! `GET /console`: the console's first page. What the server holds now (clients, users, live
//! families, active personal access tokens) and charts of this instance's last hour.

use super::chart::{Chart, PALETTE, Series};
use super::fields::failed;
use crate::http::AppState;
use crate::http::web::{Admin, Chrome, Section, page};
use crate::metrics::history::{Event, LastHour, MINUTES};
use crate::store::counts::ConsoleCounts;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::GrantType;

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    counts: ConsoleCounts,
    charts: Vec<Chart>,
}

pub async fn show(State(service): State<AppState>, Admin(visitor): Admin) -> Response {
    let chrome = visitor.chrome("Overview", Section::Overview);
    let counts = match service.console_counts().await {
        Ok(counts) => counts,
        Err(error) => return failed(&visitor, &error),
    };
    page(StatusCode::OK, &OverviewPage { chrome, counts, charts: charts(&service.activity()) })
}

/// The widths the charts are drawn at: the first spans the page, the other two share a row.
const WIDE: f64 = 1040.0;
const HALF: f64 = 520.0;

fn series(hour: &LastHour, name: &str, color: &'static str, event: Event) -> Series {
    Series { name: name.to_owned(), color, values: hour.series(event) }
}

/// The overview's three charts of `hour`.
fn charts(hour: &LastHour) -> Vec<Chart> {
    // Token requests: a series per grant and outcome that happened this hour, each in the
    // same colour every time: a cool one per grant when answered, a warm one when refused.
    let requests: Vec<Series> = GrantType::ALL
        .iter()
        .enumerate()
        .flat_map(|(index, grant)| [(index, *grant, true), (index, *grant, false)])
        .map(|(index, grant, ok)| {
            let (outcome, color) = if ok { ("ok", PALETTE[index % 5]) } else { ("refused", PALETTE[5 + index % 5]) };
            series(hour, &format!("{} {outcome}", grant.as_str()), color, Event::TokenRequest(grant, ok))
        })
        .filter(|series| series.total() > 0)
        .collect();
    let chart = |id, title, unit, width, series| Chart {
        id,
        title,
        unit,
        first_minute_at: hour.first_minute_at,
        minutes: MINUTES,
        series,
        width,
    };
    vec![
        chart("token-requests", "Token requests by grant and outcome", "requests", WIDE, requests),
        chart(
            "refresh",
            "Refresh-token rotations",
            "refreshes",
            HALF,
            vec![
                series(hour, "rotations", PALETTE[0], Event::Rotated),
                series(hour, "grace replays", PALETTE[5], Event::Replayed),
            ],
        ),
        chart(
            "security",
            "Security events",
            "events",
            HALF,
            vec![
                series(hour, "reuse detections", PALETTE[6], Event::ReuseDetected),
                series(hour, "families revoked", PALETTE[5], Event::FamilyRevoked),
                series(hour, "failed sign-ins", PALETTE[7], Event::FailedSignIn),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::history::History;
    use tessera_core::Timestamp;

    #[test]
    fn token_requests_show_only_what_happened_and_the_others_always_show() {
        let history = History::default();
        let now = Timestamp::from_secs(1_800_000_000);
        history.record(now, Event::TokenRequest(GrantType::Password, true));
        history.record(now, Event::TokenRequest(GrantType::RefreshToken, false));
        let charts = charts(&history.last_hour(now));
        let names: Vec<&str> = charts[0].series.iter().map(|series| series.name.as_str()).collect();
        assert_eq!(names, ["password ok", "refresh_token refused"]);
        assert_ne!(charts[0].series[0].color, charts[0].series[1].color);
        assert_eq!(charts[1].series.len(), 2);
        assert_eq!(charts[2].series.len(), 3);
        assert_eq!(charts[0].total(), 2);
    }
}
