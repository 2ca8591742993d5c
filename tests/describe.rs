//! Describe over real sockets: the three forms, flags, actions, types.

mod support;

use support::{fixture, get, post_json, TestServer};

#[tokio::test]
async fn describe_answers_all_three_forms() {
    let server = TestServer::start(&fixture("core")).await;
    let posted = post_json(
        &server.url("/fs/Sample/metadata"),
        &serde_json::json!({"culture": null, "uri": null, "configurationValues": null}),
    )
    .await;
    assert_eq!(posted.status, 200);
    let d = posted.json();
    assert_eq!(d["providesLogic"], true);
    assert_eq!(d["actions"][0]["uriPart"], "actions/echo");
    let got = get(&server.url("/fs/Sample/metadata")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["actions"], d["actions"]);
    server.stop().await;
}
