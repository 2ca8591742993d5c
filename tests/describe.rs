//! Describe over real sockets: the three forms, flags, actions, values, types, bindings,
//! and the health endpoints.

mod support;

use http::Method;
use serde_json::{json, Value};
use support::{fixture, get, post_json, request, TestServer};

/// The DescribeServiceRequest the engine sends when a builder refreshes a service.
fn describe_request() -> Value {
    json!({
        "culture": {"id": null, "developerName": null, "developerSummary": null, "brand": null,
                    "language": "EN", "country": "USA", "variant": null},
        "uri": "https://example.test/fs/Desk",
        "configurationValues": [
            {"valueElementId": null, "developerName": "Region", "contentValue": "EU",
             "contentType": null, "objectData": null}
        ],
        "httpAuthenticationUsername": null,
        "httpAuthenticationPassword": null,
        "version": null
    })
}

/// The entry of `list` whose `developerName` is `name`.
fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .find(|v| v["developerName"] == name)
        .unwrap_or_else(|| panic!("no '{name}' in {list}"))
}

/// Asserts a DescribeValue's name, content type, type name, required flag and position,
/// in both spellings.
fn assert_value(v: &Value, content_type: &str, type_name: Option<&str>, required: bool, at: i64) {
    assert_eq!(v["contentType"], content_type, "{v}");
    assert_eq!(v["typeElementDeveloperName"], json!(type_name), "{v}");
    assert_eq!(v["isRequired"], required, "{v}");
    assert_eq!(v["required"], required, "{v}");
    assert_eq!(v["order"], at, "{v}");
    assert_eq!(v["ordinal"], at, "{v}");
}

const FLAGS_ALWAYS_FALSE: &[&str] = &[
    "providesAutoBinding",
    "providesIdentity",
    "providesListening",
    "providesNotifications",
    "providesSmartSave",
    "providesSocial",
    "providesSharing",
    "providesViews",
    "providesVoting",
];

#[tokio::test]
async fn describe_answers_all_three_forms() {
    let server = TestServer::start(&fixture("core")).await;
    let posted = post_json(
        &server.url("/fs/Sample/metadata"),
        &json!({"culture": null, "uri": null, "configurationValues": null}),
    )
    .await;
    assert_eq!(posted.status, 200);
    assert_eq!(posted.header("content-type"), Some("application/json"));
    let d = posted.json();
    assert_eq!(d["providesLogic"], true);
    assert_eq!(d["actions"][0]["uriPart"], "actions/echo");

    let got = get(&server.url("/fs/Sample/metadata")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["actions"], d["actions"]);
    assert_eq!(got.json()["install"], d["install"]);
    assert_eq!(got.json()["configurationValues"], d["configurationValues"]);

    let bodyless = request(
        Method::POST,
        &server.url("/fs/Sample/metadata"),
        &[],
        bytes::Bytes::new(),
    )
    .await;
    assert_eq!(bodyless.status, 200);
    assert_eq!(bodyless.json()["actions"], d["actions"]);
    assert_eq!(bodyless.json()["providesLogic"], true);
    server.stop().await;
}

#[tokio::test]
async fn describe_lists_actions_with_uri_parts_inputs_and_outputs() {
    let server = TestServer::start(&fixture("core")).await;
    let d = post_json(&server.url("/fs/Sample/metadata"), &describe_request())
        .await
        .json();
    let actions = &d["actions"];
    assert_eq!(actions.as_array().unwrap().len(), 2);

    let echo = named(actions, "Echo");
    assert_eq!(echo["uriPart"], "actions/echo");
    assert_eq!(
        echo["developerSummary"],
        "Outputs are the inputs of the same names"
    );
    assert_eq!(echo["isViewMessageAction"], false);
    assert_eq!(echo["serviceActionOutcomes"], json!([]));
    assert_value(
        named(&echo["serviceInputs"], "Name"),
        "ContentString",
        None,
        false,
        0,
    );
    assert_value(
        named(&echo["serviceInputs"], "Count"),
        "ContentNumber",
        None,
        false,
        1,
    );
    assert_value(
        named(&echo["serviceOutputs"], "Count"),
        "ContentNumber",
        None,
        false,
        1,
    );

    let approve = named(actions, "Approve Order");
    assert_eq!(approve["uriPart"], "actions/approve-order");
    assert_value(
        named(&approve["serviceInputs"], "Order Id"),
        "ContentString",
        None,
        true,
        0,
    );
    assert_value(
        named(&approve["serviceOutputs"], "Approved At"),
        "ContentDateTime",
        None,
        false,
        0,
    );
    assert_value(
        named(&approve["serviceOutputs"], "Message"),
        "ContentString",
        None,
        false,
        1,
    );

    // Sample has no data actions and no file resources.
    assert_eq!(d["providesLogic"], true);
    assert_eq!(d["providesDatabase"], false);
    assert_eq!(d["providesFiles"], false);
    for f in FLAGS_ALWAYS_FALSE {
        assert_eq!(d[*f], false, "{f}");
    }
    // The request's culture and uri are echoed.
    assert_eq!(d["culture"]["language"], "EN");
    assert_eq!(d["uri"], "https://example.test/fs/Desk");
    // Not the install form: no top-level types.
    assert!(d.get("types").is_none_or(Value::is_null), "{d}");
    server.stop().await;
}

#[tokio::test]
async fn describe_flags_follow_the_definition() {
    let server = TestServer::start(&fixture("desk")).await;
    let desk = get(&server.url("/fs/Desk/metadata")).await.json();
    assert_eq!(desk["providesLogic"], true);
    assert_eq!(desk["providesDatabase"], true);
    assert_eq!(desk["providesFiles"], true);
    for f in FLAGS_ALWAYS_FALSE {
        assert_eq!(desk[*f], false, "{f}");
    }

    // A name with a space is mounted percent-encoded.
    let vault = get(&server.url("/fs/Doc%20Vault/metadata")).await.json();
    assert_eq!(vault["providesLogic"], false);
    assert_eq!(vault["providesDatabase"], false);
    assert_eq!(vault["providesFiles"], true);
    assert_eq!(vault["actions"], json!([]));
    assert_eq!(vault["configurationValues"], json!([]));
    assert_eq!(vault["install"]["typeElements"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn describe_lists_configuration_values_with_type_and_required_flag() {
    let server = TestServer::start(&fixture("desk")).await;
    let d = post_json(&server.url("/fs/Desk/metadata"), &describe_request())
        .await
        .json();
    let config = &d["configurationValues"];
    assert_eq!(config.as_array().unwrap().len(), 3);
    assert_value(named(config, "Region"), "ContentString", None, true, 0);
    assert_value(named(config, "Api Key"), "ContentPassword", None, true, 1);
    assert_value(named(config, "Page Size"), "ContentNumber", None, false, 2);

    // The bodyless form lists the same values.
    let bodyless = get(&server.url("/fs/Desk/metadata")).await.json();
    assert_eq!(bodyless["configurationValues"], d["configurationValues"]);
    server.stop().await;
}

#[tokio::test]
async fn describe_does_not_require_configuration_values() {
    // Builders describe a service before they fill in its required settings.
    let server = TestServer::start(&fixture("desk")).await;
    let answer = post_json(
        &server.url("/fs/Desk/metadata"),
        &json!({"culture": null, "uri": null, "configurationValues": []}),
    )
    .await;
    assert_eq!(answer.status, 200);
    let install = post_json(
        &server.url("/fs/Desk/metadata/install"),
        &json!({"configurationValues": null}),
    )
    .await;
    assert_eq!(install.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn describe_object_and_list_values_name_their_type() {
    let server = TestServer::start(&fixture("desk")).await;
    let d = get(&server.url("/fs/Desk/metadata")).await.json();
    let copy = named(&d["actions"], "Copy Order");
    assert_eq!(copy["uriPart"], "actions/copy-order");
    assert_value(
        named(&copy["serviceInputs"], "Order"),
        "ContentObject",
        Some("Order"),
        true,
        0,
    );
    assert_value(
        named(&copy["serviceInputs"], "Lines"),
        "ContentList",
        Some("Line"),
        false,
        1,
    );
    assert_value(
        named(&copy["serviceOutputs"], "Lines"),
        "ContentList",
        Some("Line"),
        false,
        1,
    );
    // An explicit "uri" replaces the slug.
    assert_eq!(
        named(&d["actions"], "Fail")["uriPart"],
        "actions/always/fail"
    );
    server.stop().await;
}

#[tokio::test]
async fn install_form_carries_actions_types_and_type_elements() {
    let server = TestServer::start(&fixture("desk")).await;
    let full = get(&server.url("/fs/Desk/metadata")).await.json();
    let answer = post_json(
        &server.url("/fs/Desk/metadata/install"),
        &json!({"configurationValues": [
            {"developerName": "Region", "contentValue": "EU", "contentType": null},
            {"developerName": "Api Key", "contentValue": "k", "contentType": null}
        ]}),
    )
    .await;
    assert_eq!(answer.status, 200);
    let i = answer.json();
    assert_eq!(i["actions"], full["actions"]);
    assert_eq!(i["types"], i["install"]["typeElements"]);
    assert_eq!(i["install"], full["install"]);
    assert_eq!(i["configurationValues"], full["configurationValues"]);
    assert_eq!(i["providesLogic"], true);
    assert_eq!(i["providesDatabase"], true);
    let names: Vec<&str> = i["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["developerName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Customer", "Line", "Order", "Ticket"]);

    // A bodyless install is answered too.
    let bodyless = request(
        Method::POST,
        &server.url("/fs/Desk/metadata/install"),
        &[],
        bytes::Bytes::new(),
    )
    .await;
    assert_eq!(bodyless.status, 200);
    assert_eq!(bodyless.json()["types"], i["types"]);
    server.stop().await;
}

#[tokio::test]
async fn type_elements_carry_properties_and_bindings_for_data_actions() {
    let server = TestServer::start(&fixture("desk")).await;
    let d = get(&server.url("/fs/Desk/metadata")).await.json();
    let types = &d["install"]["typeElements"];

    let order = named(types, "Order");
    assert_eq!(order["elementType"], "TYPE");
    assert_eq!(
        order["developerSummary"],
        "An order with a customer and lines"
    );
    assert_eq!(order["id"], Value::Null);
    assert_eq!(order["serviceElementId"], Value::Null);
    assert_eq!(order["updateByName"], false);
    // Order is only used by actions: no bindings.
    assert_eq!(order["bindings"], json!([]));
    let props = &order["properties"];
    let expect = [
        ("Id", "ContentString", None),
        ("Total", "ContentNumber", None),
        ("Placed", "ContentDateTime", None),
        ("Customer", "ContentObject", Some("Customer")),
        ("Lines", "ContentList", Some("Line")),
    ];
    assert_eq!(props.as_array().unwrap().len(), expect.len());
    for (name, ct, tn) in expect {
        let p = named(props, name);
        assert_eq!(p["contentType"], ct, "{p}");
        assert_eq!(p["typeElementDeveloperName"], json!(tn), "{p}");
    }

    // Ticket is used by a data action: one binding, one property binding per property.
    let ticket = named(types, "Ticket");
    let bindings = ticket["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 1, "{ticket}");
    let b = &bindings[0];
    assert!(b["developerName"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(b["databaseTableName"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    let pbs = b["propertyBindings"].as_array().unwrap();
    let bound: Vec<&str> = pbs
        .iter()
        .map(|p| p["typeElementPropertyDeveloperName"].as_str().unwrap())
        .collect();
    assert_eq!(bound, ["Id", "Subject", "Open", "Opened", "Score"]);
    for p in pbs {
        assert!(p["databaseFieldName"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
    }
    server.stop().await;
}

#[tokio::test]
async fn describe_accepts_engine_payloads_with_null_everywhere() {
    let server = TestServer::start(&fixture("core")).await;
    let body = json!({
        "culture": null, "uri": null,
        "configurationValues": [
            {"valueElementId": null, "typeElementId": null, "typeElementPropertyId": null,
             "developerName": null, "typeElementDeveloperName": null,
             "typeElementPropertyDeveloperName": null, "contentValue": null,
             "contentType": null, "objectData": null, "objectDataResponse": null}
        ],
        "httpAuthenticationUsername": null, "httpAuthenticationPassword": null,
        "HttpAuthenticationClientCertificate": null,
        "HttpAuthenticationClientCertificatePassword": null,
        "version": null, "somethingNewer": {"nested": [1, 2, 3]}
    });
    for path in ["/fs/Sample/metadata", "/fs/Sample/metadata/install"] {
        let answer = post_json(&server.url(path), &body).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.json()["providesLogic"], true, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn health_answers_200_at_the_root_and_per_service() {
    let server = TestServer::start(&fixture("core")).await;
    let root = get(&server.url("/health")).await;
    assert_eq!(root.status, 200);
    let svc = get(&server.url("/fs/Sample/health")).await;
    assert_eq!(svc.status, 200);
    // Health is not an operation: no execution id.
    assert_eq!(svc.header("x-execution-id"), None);
    let unknown = get(&server.url("/fs/Nope/health")).await;
    unknown.problem(404);
    server.stop().await;
}
